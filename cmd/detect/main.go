// Command detect is a placeholder until its issue lands; it says so and fails.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "detect: not built yet (see the open issue for detect)")
	os.Exit(2)
}
