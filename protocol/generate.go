package protocol

// api_gen.go (method constants, Methods, Routes, the Client's methods) is
// written from the API interface; the editors' copies of the wire surface
// (editors/vscode/src/protocol.ts, editors/nvim/lua/studio/protocol.lua)
// from the package as built. Tests fail when either is stale.
//
//go:generate go run ./internal/gen
//go:generate go test -run ^TestGenerated$ . -update
