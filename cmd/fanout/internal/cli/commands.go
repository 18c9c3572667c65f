package cli

// commands is the table of subcommands, in the order `fanout help` lists
// them. A new subcommand is a file with its Run function and one line here.
var commands = []Command{
	{Name: "demo", Summary: "show the seed's serial calls against fanout, on a built-in local server", Run: runDemo},
	{Name: "http", Summary: "check the HTTP status of many URLs concurrently", Run: runHTTP},
	{Name: "exec", Summary: "run a command once per input line, concurrently (like GNU parallel, xargs -P)", Run: runExec},
	{Name: "lambda", Summary: "invoke an AWS Lambda function once per JSON payload, concurrently", Run: runLambda},
}
