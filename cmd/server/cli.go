package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// defaultProg is the program's name when the operating system gives none
// (an empty os.Args).
const defaultProg = "server"

// progName is the name the usage texts and messages give the program: the
// name it was started by, without its folder, as Bitcoin Core's tools and
// the Go command name themselves.
func progName(args []string) string {
	if len(args) == 0 || args[0] == "" {
		return defaultProg
	}
	return filepath.Base(args[0])
}

// subcommand is one command besides running the node.
type subcommand struct {
	name     string
	synopsis string // what follows the name in the usage line
	summary  string
	run      func(prog string, args []string, stdout, stderr io.Writer) int
}

// subcommands lists the commands besides running the node, in the order the
// usage text shows them.
func subcommands() []subcommand {
	return []subcommand{
		{"import-headers", "[flags] FILE", "validate a file of raw headers and add them to the chain",
			func(prog string, args []string, stdout, stderr io.Writer) int {
				return runHeadersCommand(prog, "import-headers", args, stdout, stderr)
			}},
		{"export-headers", "[flags] FILE", "write the main chain to a file of raw headers",
			func(prog string, args []string, stdout, stderr io.Writer) int {
				return runHeadersCommand(prog, "export-headers", args, stdout, stderr)
			}},
		{"import-blocks", "[flags] FILE...", "check and store the blocks of Core block files (as Core's -loadblock)",
			runImportBlocksCommand},
		{"decode", "[flags] FILE...", "decode P2P messages, captures or pcaps to JSON",
			runDecodeCommand},
		{"version", "", "print the version, the revision built and the Go version",
			runVersionCommand},
		{"help", "[COMMAND]", "show this text, or a command's", runHelpCommand},
	}
}

// runSubcommand runs the subcommand args[0] with the rest of args.
func runSubcommand(prog string, args []string, stdout, stderr io.Writer) int {
	for _, c := range subcommands() {
		if c.name == args[0] {
			return c.run(prog, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q; the commands are %s (%s -help says more)\n",
		prog, args[0], strings.Join(subcommandNames(), ", "), prog)
	return 2
}

func subcommandNames() []string {
	var names []string
	for _, c := range subcommands() {
		names = append(names, c.name)
	}
	return names
}

// writeUsage writes the top of the program's usage text: what it is and
// every way to call it. The node's flags follow it in -help.
func writeUsage(w io.Writer, prog string) {
	fmt.Fprintf(w, "%s runs the watchnode Bitcoin node, or one of its commands.\n\nUsage:\n", prog)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  %s [flags]\trun the node\n", prog)
	for _, c := range subcommands() {
		fmt.Fprintf(tw, "  %s %s\t%s\n", prog, strings.TrimSpace(c.name+" "+c.synopsis), c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nFlags may come before or after the FILE arguments; -- ends them.\n"+
		"\"%s COMMAND -help\" lists a command's flags.\n", prog)
}

// runHelpCommand runs "help" (the usage with the node's flags, on standard
// output since it was asked for) and "help COMMAND" (that command's -help).
func runHelpCommand(prog string, args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		parseFlags(prog, []string{"-help"}, stdout)
		return 0
	case 1:
		if a := strings.TrimLeft(args[0], "-"); a == "help" || a == "h" {
			return runHelpCommand(prog, nil, stdout, stderr)
		}
		for _, c := range subcommands() {
			if c.name == args[0] {
				return c.run(prog, []string{"-help"}, stdout, stdout)
			}
		}
		fmt.Fprintf(stderr, "%s help: unknown command %q; the commands are %s\n", prog, args[0], strings.Join(subcommandNames(), ", "))
		return 2
	}
	fmt.Fprintf(stderr, "%s help: want at most one COMMAND, got %d arguments\n", prog, len(args))
	return 2
}

// boolFlag is what the flag package asks of a flag that needs no value.
type boolFlag interface{ IsBoolFlag() bool }

// parseArgs parses args with fs, taking flags before, after and between the
// positional arguments, as GNU getopt does: "export-headers FILE -force"
// means what "export-headers -force FILE" does, where the flag package
// alone would take "-force" for a second file. "--" ends the flags: every
// argument after it is positional, so a file named "-x" is "-- -x". A lone
// "-" is positional (standard input). It returns the positional arguments
// in order; fs.Args() is empty afterwards.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case len(a) < 2 || a[0] != '-':
			positional = append(positional, a)
		default:
			flags = append(flags, a)
			// "-format core": the value is the next argument, which must
			// stay with its flag even when it does not start with "-".
			if takesValue(fs, a) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return positional, nil
}

// takesValue reports whether the flag argument a ("-name" or "--name", no
// "=value") is a flag of fs that takes its value from the next argument.
// Unknown flags take none: fs.Parse reports them.
func takesValue(fs *flag.FlagSet, a string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	if b, ok := f.Value.(boolFlag); ok && b.IsBoolFlag() {
		return false
	}
	return true
}

// plural returns "1 header", "2 headers", "0 headers": every count the
// commands print goes through it.
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
