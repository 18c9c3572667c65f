package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// outFile is an output file the flags ask for (--trace, --timeline),
// created before the run starts so that a path that cannot be written is a
// usage error of one line, not a surprise after a long run.
type outFile struct {
	flag string
	f    *os.File
}

// createOutFile creates path for flag; nil for an empty path.
func createOutFile(cmd, flag, path string) (*outFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Create(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("cannot create %s: %w", pe.Path, pe.Err)
		}
		return nil, usagef(cmd, "%s: %v", flag, err)
	}
	return &outFile{flag: flag, f: f}, nil
}

// write fills the file with write's output and closes it.
func (o *outFile) write(write func(io.Writer) error) error {
	bw := bufio.NewWriterSize(o.f, 64<<10)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.flag, err)
	}
	return nil
}

// Name is the file's path.
func (o *outFile) Name() string { return o.f.Name() }

// close closes a file that will not be written.
func (o *outFile) close() {
	if o != nil {
		o.f.Close()
	}
}
