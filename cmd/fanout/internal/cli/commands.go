package cli

// commands is the table of subcommands, in the order `fanout help` lists
// them. A new subcommand is a file with its Run function and one line here.
var commands = []Command{
	{Name: "demo", Summary: "the article's serial calls against fanout, HTTP and Lambda, on built-in local servers", Run: runDemo},
	{Name: "http", Summary: "check the HTTP status of many URLs concurrently", Run: runHTTP},
	{Name: "exec", Summary: "run a command once per input line, concurrently (like GNU parallel, xargs -P)", Run: runExec},
	{Name: "lambda", Summary: "invoke an AWS Lambda function once per JSON payload, concurrently", Run: runLambda},
	{Name: "merge", Summary: "merge the JSON-lines outputs of shards or resumed runs into one, in input order", Run: runMerge},
}
