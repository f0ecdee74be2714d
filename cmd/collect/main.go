// Command collect is a placeholder until the collect foundation lands.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "collect: not built yet")
	os.Exit(2)
}
