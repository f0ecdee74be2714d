// Command cleanup is a placeholder until its issue lands; it says so and fails.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cleanup: not built yet (see the open issue for cleanup)")
	os.Exit(2)
}
