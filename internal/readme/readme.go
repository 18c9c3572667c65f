// Package readme keeps the Go snippets of the repository's README.md
// honest: each snippet is the body of an Example or a test (marked
// "// readme:begin" and "// readme:end" in the named file), so it compiles
// and runs with the tests, and this package's test checks that README.md
// shows exactly those lines. A snippet is tied to its example by an HTML
// comment right above it in README.md:
//
//	<!-- snippet: lambdainvoke/readme_example_test.go ExampleInvoker_readme -->
//
// The package has no code of its own beyond its examples and test.
package readme
