// Package console owns fanout's standard output and standard error while
// a command runs, so that what a person sees stays readable and what a
// program reads arrives promptly:
//
//   - [Screen] is the one writer of the terminal: records, messages and a
//     status line (the progress) go through it, and the status line is
//     erased before anything else is written, so a row never starts with
//     progress text;
//   - [IdleWriter] buffers output for throughput and flushes it once it
//     has waited about 100 ms, so that `tail -f urls | fanout http | jq`
//     sees each record soon after it is written;
//   - [Progress] counts records and renders the status line: count, total
//     when known (or the share of a regular input file read), a smoothed
//     rate and an ETA.
//
// Every subcommand (http, lambda, exec) uses them the same way: build a
// Screen over the process's streams, write records through an IdleWriter
// over Screen.Stdout, messages to Screen.Stderr, and show a Progress with
// Screen.ShowProgress.
package console
