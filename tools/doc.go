// Package tools pins the programs that fanout's tests build but its users
// never need: the AWS Lambda Runtime Interface Emulator (a tool line in
// go.mod) and aws-lambda-go for the test handler in lambdahandler. Keeping
// them in this module of their own keeps them, and the go line the emulator
// forces (go 1.26.6), out of every module a user imports.
package tools
