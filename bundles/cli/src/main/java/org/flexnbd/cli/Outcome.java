package org.flexnbd.cli;

/** What the command line amounts to: run the proxy, show the usage, or refuse with a usage error. */
sealed interface Outcome permits Outcome.Run, Outcome.Help, Outcome.UsageError {

    /** Valid flags: run the proxy with these settings. */
    record Run(ProxySettings settings) implements Outcome {
    }

    /** -h/--help: print this text on stdout and exit 0. */
    record Help(String usage) implements Outcome {
    }

    /** Anything wrong with the flags: print the message (one line) on stderr and exit 2. */
    record UsageError(String message) implements Outcome {
    }
}
