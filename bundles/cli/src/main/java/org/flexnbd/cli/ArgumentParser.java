package org.flexnbd.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.MissingArgumentException;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.apache.commons.cli.ParseException;
import org.apache.commons.cli.UnrecognizedOptionException;
import org.apache.commons.cli.help.HelpFormatter;
import org.apache.commons.cli.help.TextHelpAppendable;

/**
 * Turns the command line (and the environment, for FLEXNBD_UPSTREAM_TIMEOUT) into an {@link Outcome}. Pure: no
 * OSGi, no output, no global state; the environment is given, so that tests can choose it.
 */
final class ArgumentParser {
    static final String COMMAND = "flexnbd-proxy";
    static final String TIMEOUT_VARIABLE = "FLEXNBD_UPSTREAM_TIMEOUT";
    static final String DEMO_ADDRESS = "127.0.0.1";
    static final int DEMO_PORT = 10809;
    static final int DEFAULT_CACHE_BYTES = 4096;
    static final List<String> HANDSHAKES = List.of("same", "newstyle", "oldstyle");

    private static final Option ADDR = Option.builder("l").longOpt("addr").hasArg().argName("ADDR")
            .desc("address to listen on for NBD clients; a path starting with / is a UNIX socket (then no --port)")
            .get();
    private static final Option PORT = Option.builder("p").longOpt("port").hasArg().argName("PORT")
            .desc("port to listen on").get();
    private static final Option CONN_ADDR = Option.builder("C").longOpt("conn-addr").hasArg().argName("ADDR")
            .desc("address of the NBD server to connect to; a path starting with / is a UNIX socket"
                    + " (then no --conn-port); or an NBD URI (nbd://HOST[:PORT][/EXPORT], nbds://... for TLS,"
                    + " nbd+unix:///EXPORT?socket=PATH, nbds+unix://...; ?tls-certificates=DIR or"
                    + " ?tls-psk-file=FILE, nbds://USER@HOST/... with the latter), which gives the port, export name"
                    + " and TLS")
            .get();
    private static final Option CONN_PORT = Option.builder("P").longOpt("conn-port").hasArg().argName("PORT")
            .desc("port of the NBD server to connect to").get();
    private static final Option BIND = Option.builder("b").longOpt("bind").hasArg().argName("ADDR")
            .desc("local address to connect to the NBD server from").get();
    private static final Option HELP = Option.builder("h").longOpt("help").desc("show this help and exit").get();
    private static final Option VERBOSE = Option.builder("v").longOpt("verbose")
            .desc("log information too (I lines); with --debug, also D lines").get();
    private static final Option QUIET = Option.builder("q").longOpt("quiet")
            .desc("log fatal errors only (F lines); of -v and -q the last one given wins").get();
    private static final Option CONN_EXPORT = Option.builder().longOpt("conn-export").hasArg().argName("NAME")
            .desc("export name to ask a newstyle NBD server for (default: the empty name)").get();
    private static final Option UPSTREAM_TIMEOUT = Option.builder().longOpt("upstream-timeout").hasArg()
            .argName("SECONDS")
            .desc("no progress this long on an upstream connection with requests outstanding counts as a failure:"
                    + " reconnect and retransmit (default: $" + TIMEOUT_VARIABLE + ", or 30)")
            .get();
    private static final Option MAX_CLIENTS = Option.builder().longOpt("max-clients").hasArg().argName("N")
            .desc("clients served at once, each with its own upstream connection (default 1)").get();
    private static final Option JMX_PORT = Option.builder().longOpt("jmx-port").hasArg().argName("PORT")
            .desc("also open a JMX RMI connector on 127.0.0.1:PORT, for the users of --jmx-password-file").get();
    private static final Option JMX_PASSWORD_FILE = Option.builder().longOpt("jmx-password-file").hasArg()
            .argName("FILE").desc("JMX users and passwords ('user password' lines), readable by its owner only;"
                    + " required with --jmx-port")
            .get();
    private static final Option JMX_ACCESS_FILE = Option.builder().longOpt("jmx-access-file").hasArg()
            .argName("FILE").desc("JMX roles ('user readonly' or 'user readwrite' lines), readable by its owner"
                    + " only; without it every JMX user is read-only")
            .get();
    private static final Option SOCKET_MODE = Option.builder().longOpt("socket-mode").hasArg().argName("MODE")
            .desc("permissions of a UNIX socket -l, in octal (default 0600)").get();
    private static final Option SOCKET_GROUP = Option.builder().longOpt("socket-group").hasArg().argName("GROUP")
            .desc("group of a UNIX socket -l (default: the proxy's)").get();
    private static final Option HANDSHAKE = Option.builder().longOpt("handshake").hasArg().argName("STYLE")
            .desc("handshake offered to clients: same (as the NBD server spoke; the default), newstyle or oldstyle")
            .get();
    private static final Option CACHE = Option.builder().longOpt("cache").hasArg().optionalArg(true)
            .argName("BYTES").desc("read-ahead cache of BYTES (default " + DEFAULT_CACHE_BYTES + "); off unless given")
            .get();
    private static final Option DEBUG = Option.builder().longOpt("debug").desc("with -v, also log debug lines")
            .get();
    private static final Option TLS = Option.builder().longOpt("tls").hasArg().argName("MODE")
            .desc("TLS for clients: off (the default), on (clients may use STARTTLS) or require (clients must);"
                    + " on and require need --tls-certificates or --tls-psk")
            .get();
    private static final Option TLS_CERTIFICATES = Option.builder().longOpt("tls-certificates").hasArg()
            .argName("DIR").desc("folder with server-cert.pem, server-key.pem and, for --tls-verify-peer, ca-cert.pem")
            .get();
    private static final Option TLS_PSK = Option.builder().longOpt("tls-psk").hasArg().argName("FILE")
            .desc("pre-shared keys for clients instead of certificates: psktool's 'identity:hexkey' lines, as nbdkit"
                    + " --tls-psk reads them; needs --tls on or require")
            .get();
    private static final Option TLS_VERIFY_PEER = Option.builder().longOpt("tls-verify-peer")
            .desc("clients must present a certificate signed by DIR/ca-cert.pem; needs --tls on or require").get();
    private static final Option TLS_PEER_NAMES = Option.builder().longOpt("tls-peer-names").hasArg().argName("LIST")
            .desc("with --tls-verify-peer: a client certificate's common name (CN) must be one of these"
                    + " (comma-separated)")
            .get();
    private static final Option ALLOW = Option.builder().longOpt("allow").hasArg().argName("LIST")
            .desc("only these clients may connect: a comma-separated list of ADDR, ADDR/PREFIX (IPv4 or IPv6),"
                    + " uid:N, gid:N (default: everyone)")
            .get();
    private static final Option CONN_TLS = Option.builder().longOpt("conn-tls").hasArg().argName("MODE")
            .desc("TLS to the NBD server: off (the default), on (if the server offers it) or require").get();
    private static final Option CONN_TLS_CERTIFICATES = Option.builder().longOpt("conn-tls-certificates").hasArg()
            .argName("DIR").desc("folder with ca-cert.pem and, optionally, client-cert.pem and client-key.pem").get();
    private static final Option CONN_TLS_PSK = Option.builder().longOpt("conn-tls-psk").hasArg().argName("FILE")
            .desc("a pre-shared key for the NBD server instead of certificates: psktool's 'identity:hexkey' lines")
            .get();
    private static final Option CONN_TLS_USERNAME = Option.builder().longOpt("conn-tls-username").hasArg()
            .argName("NAME").desc("the identity to use from the PSK file (default: its first one)").get();
    private static final Option DEMO = Option.builder().longOpt("demo")
            .desc("no NBD server needed: proxy to an embedded in-memory one (listens on " + DEMO_ADDRESS + ":"
                    + DEMO_PORT + " unless -l/-p say otherwise)")
            .get();

    private final Map<String, String> environment;

    /** @param environment the process environment (System.getenv() in production) */
    ArgumentParser(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    static Options options() {
        Options o = new Options();
        for (Option opt : List.of(ADDR, PORT, CONN_ADDR, CONN_PORT, BIND, HELP, VERBOSE, QUIET, CONN_EXPORT,
                UPSTREAM_TIMEOUT, MAX_CLIENTS, JMX_PORT, JMX_PASSWORD_FILE, JMX_ACCESS_FILE, HANDSHAKE, CACHE, DEBUG,
                DEMO, SOCKET_MODE, SOCKET_GROUP, TLS, TLS_CERTIFICATES, TLS_PSK, TLS_VERIFY_PEER, TLS_PEER_NAMES, ALLOW,
                CONN_TLS, CONN_TLS_CERTIFICATES, CONN_TLS_PSK, CONN_TLS_USERNAME)) {
            o.addOption(opt);
        }
        return o;
    }

    Outcome parse(String... args) {
        CommandLine cmd;
        try {
            cmd = DefaultParser.builder().setAllowPartialMatching(false).setStripLeadingAndTrailingQuotes(false).get()
                    .parse(options(), args);
        } catch (UnrecognizedOptionException e) {
            return new Outcome.UsageError("unknown option " + e.getOption());
        } catch (MissingArgumentException e) {
            return new Outcome.UsageError(name(e.getOption()) + " needs a value");
        } catch (ParseException e) {
            return new Outcome.UsageError(e.getMessage());
        }
        if (cmd.hasOption(HELP)) {
            return new Outcome.Help(usage());
        }
        try {
            return new Outcome.Run(settings(cmd));
        } catch (UsageException e) {
            return new Outcome.UsageError(e.getMessage());
        }
    }

    private ProxySettings settings(CommandLine cmd) throws UsageException {
        if (!cmd.getArgList().isEmpty()) {
            throw new UsageException("unexpected argument '" + cmd.getArgList().get(0) + "'");
        }
        boolean demo = cmd.hasOption(DEMO);
        Address listen = listenAddress(cmd, demo);
        Optional<Address> upstream;
        Optional<String> exportName = Optional.ofNullable(last(cmd, CONN_EXPORT));
        Tls upstreamTls;
        String connAddr = last(cmd, CONN_ADDR);
        if (demo) {
            for (Option o : List.of(CONN_ADDR, CONN_PORT, BIND, CONN_TLS, CONN_TLS_CERTIFICATES, CONN_TLS_PSK,
                    CONN_TLS_USERNAME)) {
                if (cmd.hasOption(o)) {
                    throw new UsageException(name(o) + " cannot be used with --demo, which brings its own NBD server");
                }
            }
            upstream = Optional.empty();
            upstreamTls = Tls.UNSAID;
        } else if (connAddr != null && NbdUri.looksLikeUri(connAddr)) {
            NbdUri uri = nbdUri(cmd, connAddr);
            upstream = Optional.of(uri.address());
            // The URI names the whole connection: its scheme says TLS or not, its path the export (empty: the
            // default one), whatever config/ says. The credentials are left to config/ when it names none; with a
            // PSK file its user name is the identity, none meaning the file's first, whatever config/ says.
            exportName = Optional.of(uri.exportName());
            upstreamTls = new Tls(Optional.of(uri.tls()), uri.tlsCertificates(), uri.tlsPsk(),
                    uri.tlsPsk().isPresent() ? Optional.of(uri.tlsUsername().orElse("")) : Optional.empty());
        } else {
            upstream = Optional.of(endpoint(cmd, CONN_ADDR, CONN_PORT, "required (or use --demo)"));
            upstreamTls = new Tls(tlsMode(cmd, CONN_TLS), path(cmd, CONN_TLS_CERTIFICATES, "a folder"),
                    file(cmd, CONN_TLS_PSK), Optional.ofNullable(last(cmd, CONN_TLS_USERNAME)));
            checkUpstreamTls(upstreamTls);
        }
        Tls clientTls = new Tls(tlsMode(cmd, TLS), path(cmd, TLS_CERTIFICATES, "a folder"), file(cmd, TLS_PSK),
                Optional.empty());
        boolean verifyPeer = cmd.hasOption(TLS_VERIFY_PEER);
        Optional<String> peerNames = Optional.ofNullable(last(cmd, TLS_PEER_NAMES));
        checkClientTls(clientTls, verifyPeer, peerNames.isPresent());
        if (peerNames.isPresent() && (peerNames.get().isBlank() || !verifyPeer)) {
            throw new UsageException(name(TLS_PEER_NAMES) + " needs a list of names, and " + name(TLS_VERIFY_PEER));
        }
        Optional<String> allow = Optional.ofNullable(last(cmd, ALLOW));
        if (allow.isPresent() && allow.get().isBlank()) {
            // An empty list means everyone: too much to grant through a variable that happened to be empty.
            throw new UsageException(name(ALLOW) + " needs a list (leave the flag out to let everyone connect)");
        }
        Optional<String> bind = Optional.ofNullable(last(cmd, BIND));
        if (bind.isPresent() && bind.get().isBlank()) {
            throw new UsageException(name(BIND) + " needs an address");
        }
        Optional<String> handshake = Optional.ofNullable(last(cmd, HANDSHAKE));
        if (handshake.isPresent() && !HANDSHAKES.contains(handshake.get())) {
            throw new UsageException(name(HANDSHAKE) + " must be one of " + String.join(", ", HANDSHAKES) + ", not '"
                    + handshake.get() + "'");
        }
        OptionalInt cache = OptionalInt.empty();
        if (cmd.hasOption(CACHE)) {
            String bytes = last(cmd, CACHE);
            cache = OptionalInt.of(bytes == null ? DEFAULT_CACHE_BYTES : positive(CACHE, bytes));
        }
        OptionalInt jmxPort = port(cmd, JMX_PORT);
        Optional<String> passwordFile = file(cmd, JMX_PASSWORD_FILE);
        if (jmxPort.isPresent() && passwordFile.isEmpty()) {
            // Every local user reaches a loopback port: no connector without authentication.
            throw new UsageException(name(JMX_PORT) + " needs " + name(JMX_PASSWORD_FILE));
        }
        Optional<String> socketMode = Optional.ofNullable(last(cmd, SOCKET_MODE));
        if (socketMode.isPresent() && !socketMode.get().matches("0?[0-7]{3}")) {
            throw new UsageException(name(SOCKET_MODE) + " must be octal permissions such as 0660, not '"
                    + socketMode.get() + "'");
        }
        Optional<String> socketGroup = Optional.ofNullable(last(cmd, SOCKET_GROUP));
        if ((socketMode.isPresent() || socketGroup.isPresent()) && !listen.isUnix()) {
            throw new UsageException((socketMode.isPresent() ? name(SOCKET_MODE) : name(SOCKET_GROUP))
                    + " is for a UNIX socket -l/--addr");
        }
        if (socketGroup.isPresent() && socketGroup.get().isBlank()) {
            throw new UsageException(name(SOCKET_GROUP) + " needs a group");
        }
        return new ProxySettings(listen, upstream, bind, exportName, upstreamTimeout(cmd), positive(cmd, MAX_CLIENTS),
                jmxPort, handshake, cache, demo, verbosity(cmd), passwordFile, file(cmd, JMX_ACCESS_FILE), socketMode,
                socketGroup, clientTls, verifyPeer, peerNames, allow, upstreamTls);
    }

    /** -C as an NBD URI, which says what -P, --conn-export and the --conn-tls flags would. */
    private static NbdUri nbdUri(CommandLine cmd, String text) throws UsageException {
        NbdUri uri;
        try {
            uri = NbdUri.parse(text);
        } catch (NbdUri.Invalid e) {
            throw new UsageException(name(CONN_ADDR) + " " + text + " " + e.getMessage());
        }
        List<String> conflicting = new ArrayList<>();
        for (Option o : List.of(CONN_PORT, CONN_EXPORT, CONN_TLS, CONN_TLS_CERTIFICATES, CONN_TLS_PSK,
                CONN_TLS_USERNAME)) {
            if (cmd.hasOption(o)) {
                conflicting.add(name(o));
            }
        }
        if (!conflicting.isEmpty()) {
            throw new UsageException("a URI and conflicting flags: " + name(CONN_ADDR) + " " + text + " gives the"
                    + " port, export name and TLS itself, so " + String.join(", ", conflicting)
                    + " cannot be used with it");
        }
        return uri;
    }

    /**
     * A server without its certificate or a pre-shared key cannot do TLS, and has one of them, not both; verifying
     * clients' certificates means nothing without TLS, or with a pre-shared key, which itself authenticates them.
     */
    private static void checkClientTls(Tls tls, boolean verifyPeer, boolean peerNames) throws UsageException {
        if (tls.certificates().isPresent() && tls.psk().isPresent()) {
            throw new UsageException(name(TLS_CERTIFICATES) + " and " + name(TLS_PSK) + " cannot be used together:"
                    + " X.509 certificates or a pre-shared key, not both");
        }
        if (tls.on() && tls.certificates().isEmpty() && tls.psk().isEmpty()) {
            throw new UsageException(name(TLS) + " " + tls.mode().get() + " needs " + name(TLS_CERTIFICATES)
                    + " (the folder with server-cert.pem and server-key.pem) or " + name(TLS_PSK)
                    + " (a file of pre-shared keys)");
        }
        if (tls.psk().isPresent() && tls.mode().isPresent() && !tls.on()) {
            throw new UsageException(name(TLS_PSK) + " needs " + name(TLS) + " on or require, not off");
        }
        if (tls.psk().isPresent() && (verifyPeer || peerNames)) {
            throw new UsageException(name(verifyPeer ? TLS_VERIFY_PEER : TLS_PEER_NAMES) + " cannot be used with "
                    + name(TLS_PSK) + ": with a pre-shared key the key itself authenticates the client");
        }
        // With --tls left out, config/'s tls decides; the configuration's range check refuses it if that is off.
        if (verifyPeer && tls.mode().isPresent() && !tls.on()) {
            throw new UsageException(name(TLS_VERIFY_PEER) + " needs " + name(TLS) + " on or require, not off");
        }
    }

    /** The upstream's credentials: X.509 certificates or a pre-shared key, not both; a user name is a PSK's. */
    private static void checkUpstreamTls(Tls tls) throws UsageException {
        if (tls.certificates().isPresent() && tls.psk().isPresent()) {
            throw new UsageException(name(CONN_TLS_CERTIFICATES) + " and " + name(CONN_TLS_PSK) + " cannot be used"
                    + " together: X.509 certificates or a pre-shared key, not both");
        }
        if (tls.username().isPresent() && tls.username().get().isBlank()) {
            throw new UsageException(name(CONN_TLS_USERNAME) + " needs a name (leave the flag out for the PSK"
                    + " file's first identity)");
        }
        // Without --conn-tls-psk, config/'s tlsPsk may hold the file; the range check refuses a name without one.
        if (tls.username().isPresent() && tls.certificates().isPresent()) {
            throw new UsageException(name(CONN_TLS_USERNAME) + " is the identity of a pre-shared key: it goes with "
                    + name(CONN_TLS_PSK) + ", not " + name(CONN_TLS_CERTIFICATES));
        }
    }

    private static Optional<String> tlsMode(CommandLine cmd, Option option) throws UsageException {
        Optional<String> mode = Optional.ofNullable(last(cmd, option));
        if (mode.isPresent() && !Pids.TLS_MODES.contains(mode.get())) {
            throw new UsageException(name(option) + " must be one of " + String.join(", ", Pids.TLS_MODES) + ", not '"
                    + mode.get() + "'");
        }
        return mode;
    }

    private static Optional<String> file(CommandLine cmd, Option option) throws UsageException {
        return path(cmd, option, "a file");
    }

    /** A path named on the command line, made absolute against the working folder the proxy was started in. */
    private static Optional<String> path(CommandLine cmd, Option option, String what) throws UsageException {
        String v = last(cmd, option);
        if (v == null) {
            return Optional.empty();
        }
        if (v.isBlank()) {
            throw new UsageException(name(option) + " needs " + what);
        }
        return Optional.of(java.nio.file.Path.of(v).toAbsolutePath().normalize().toString());
    }

    private Address listenAddress(CommandLine cmd, boolean demo) throws UsageException {
        if (!demo) {
            return endpoint(cmd, ADDR, PORT, "required");
        }
        String addr = last(cmd, ADDR);
        if (addr != null && Address.isUnixPath(addr)) {
            return endpoint(cmd, ADDR, PORT, "required");
        }
        String port = last(cmd, PORT);
        return new Address(addr == null ? DEMO_ADDRESS : nonEmpty(ADDR, addr),
                port == null ? DEMO_PORT : port(PORT, port));
    }

    /** An address flag and its port flag: the port is required with a host, and forbidden with a UNIX path. */
    private static Address endpoint(CommandLine cmd, Option addrOption, Option portOption, String missing)
            throws UsageException {
        String addr = last(cmd, addrOption);
        if (addr == null) {
            throw new UsageException(name(addrOption) + " is " + missing);
        }
        nonEmpty(addrOption, addr);
        String port = last(cmd, portOption);
        if (Address.isUnixPath(addr)) {
            if (port != null) {
                throw new UsageException(name(portOption) + " cannot be used with a UNIX socket " + name(addrOption)
                        + " (" + addr + ")");
            }
            return Address.unix(addr);
        }
        if (port == null) {
            throw new UsageException(name(portOption) + " is required with " + name(addrOption) + " " + addr);
        }
        return new Address(addr, port(portOption, port));
    }

    private OptionalInt upstreamTimeout(CommandLine cmd) throws UsageException {
        OptionalInt flag = positive(cmd, UPSTREAM_TIMEOUT);
        if (flag.isPresent()) {
            return flag;
        }
        String env = environment.get(TIMEOUT_VARIABLE);
        if (env == null || env.isBlank()) {
            return OptionalInt.empty();
        }
        Integer seconds = parsePositive(env.trim());
        if (seconds == null) {
            throw new UsageException(TIMEOUT_VARIABLE + " must be a positive number of seconds, not '" + env + "'");
        }
        return OptionalInt.of(seconds);
    }

    /** -v and -q may both be given: the last one wins. --debug adds debug lines to -v. */
    private static Verbosity verbosity(CommandLine cmd) {
        Verbosity v = Verbosity.NORMAL;
        for (Option o : cmd.getOptions()) {
            if (VERBOSE.getOpt().equals(o.getOpt())) {
                v = Verbosity.VERBOSE;
            } else if (QUIET.getOpt().equals(o.getOpt())) {
                v = Verbosity.QUIET;
            }
        }
        return v == Verbosity.VERBOSE && cmd.hasOption(DEBUG) ? Verbosity.DEBUG : v;
    }

    /** The value of the last occurrence of the option (like getopt), or null. */
    private static String last(CommandLine cmd, Option option) {
        String[] values = cmd.getOptionValues(option);
        return values == null || values.length == 0 ? null : values[values.length - 1];
    }

    private static OptionalInt positive(CommandLine cmd, Option option) throws UsageException {
        String v = last(cmd, option);
        return v == null ? OptionalInt.empty() : OptionalInt.of(positive(option, v));
    }

    private static OptionalInt port(CommandLine cmd, Option option) throws UsageException {
        String v = last(cmd, option);
        return v == null ? OptionalInt.empty() : OptionalInt.of(port(option, v));
    }

    private static int positive(Option option, String value) throws UsageException {
        Integer n = parsePositive(value);
        if (n == null) {
            throw new UsageException(name(option) + " must be a positive number, not '" + value + "'");
        }
        return n;
    }

    private static int port(Option option, String value) throws UsageException {
        Integer n = parsePositive(value);
        if (n == null || n > 65535) {
            throw new UsageException(name(option) + " must be a port number from 1 to 65535, not '" + value + "'");
        }
        return n;
    }

    private static Integer parsePositive(String value) {
        if (!value.matches("[0-9]+")) {
            return null;
        }
        try {
            int n = Integer.parseInt(value);
            return n > 0 ? n : null;
        } catch (NumberFormatException tooBig) {
            return null;
        }
    }

    private static String nonEmpty(Option option, String value) throws UsageException {
        if (value.isBlank()) {
            throw new UsageException(name(option) + " needs an address");
        }
        return value;
    }

    /** "-l/--addr", or "--cache" for a long-only option. */
    private static String name(Option o) {
        return o.getOpt() == null ? "--" + o.getLongOpt() : "-" + o.getOpt() + "/--" + o.getLongOpt();
    }

    /** The text -h/--help prints. */
    static String usage() {
        StringBuilder text = new StringBuilder();
        HelpFormatter help = HelpFormatter.builder().setHelpAppendable(new TextHelpAppendable(text))
                .setShowSince(false).get();
        help.setSyntaxPrefix("usage:");
        try {
            help.printHelp(COMMAND + " -l ADDR -p PORT -C ADDR -P PORT [-b ADDR] [OPTION]...",
                    "Proxy requests from NBD clients to an NBD server, resiliently: the clients' connections survive"
                            + " the loss of the server's, and requests in flight are sent again after a reconnect.",
                    options(),
                    "An ADDR starting with / is a UNIX socket path; leave out its port then. Defaults of every"
                            + " setting are in the installation's config/*.cfg files; flags win over them."
                            + " Exit status: 0 after a clean stop (SIGTERM, SIGINT, SIGHUP); 1 when the NBD server"
                            + " cannot be reached, the listen address cannot be bound, or the listener is lost; 2 for"
                            + " a usage error or a bad configuration (a JMX file others can read included).",
                    false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString();
    }

    /** A validation failure, with the one-line message for the user. */
    private static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message, null, false, false);
        }
    }
}
