package procrun_test

import (
	"context"
	"fmt"
	"os"

	"github.com/fanout-go/fanout/cmd/fanout/internal/procrun"
)

func ExampleTemplate_Argv() {
	tmpl, _ := procrun.NewTemplate([]string{"convert", "{}", "out/{/.}.png"}, false)
	fmt.Printf("%q\n", tmpl.Argv("photos/my cat.jpg", 1, 1))

	shell, _ := procrun.NewTemplate([]string{"gzip < {} > {}.gz"}, true)
	fmt.Println(shell.CommandLine(shell.Argv("it's.log", 1, 1)))
	// Output:
	// ["convert" "photos/my cat.jpg" "out/my cat.png"]
	// gzip < 'it'\''s.log' > 'it'\''s.log'.gz
}

func ExampleRun() {
	res, err := procrun.Run(context.Background(), []string{"sh", "-c", "echo hello; exit 3"}, procrun.Options{})
	res.Stdout.WriteTo(os.Stdout)
	fmt.Println(err, procrun.Classify(err))
	res.Close()
	// Output:
	// hello
	// exit status 3 exit
}
