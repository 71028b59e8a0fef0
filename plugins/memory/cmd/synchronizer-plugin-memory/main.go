// Command synchronizer-plugin-memory is the in-memory calendar provider as an
// external plugin: put it in the daemon's plugin_dir and name it in a calendar
// block (calendar "memory" "NAME" { ... }). It is the smallest complete example of a
// third-party provider: implement sdk.Provider, then call sdk.Serve from main.
package main

import (
	"synchronizer/plugins/memory"
	"synchronizer/plugins/sdk"
)

func main() {
	sdk.Serve(memory.New())
}
