package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"portwatch/pkg/capture"
)

func main() {
	t := time.Now()
	src, err := capture.OpenFile(os.Args[1], capture.Options{})
	if err != nil {
		panic(err)
	}
	n := 0
	for {
		_, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			break
		}
		n++
	}
	fmt.Println(n, src.Stats(), time.Since(t))
}
