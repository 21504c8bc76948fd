package org.flexnbd.cli;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * An upstream given to -C/--conn-addr as an NBD URI, in the forms libnbd's nbd_connect_uri reads:
 * {@code nbd://HOST[:PORT][/EXPORT]}, {@code nbds://...} (TLS required), and {@code nbd+unix:///EXPORT?socket=PATH},
 * {@code nbds+unix:///EXPORT?socket=PATH}, with {@code tls-certificates=DIR} or {@code tls-psk-file=FILE} (not both) as
 * the other query parameters, and a user name ({@code nbds://alice@HOST/}) as the identity to take from the PSK file,
 * accepted only with {@code tls-psk-file=}. Whatever else libnbd accepts (vsock, ssh, a user name without a PSK
 * file, further parameters) is refused by name: a part of the URI the proxy silently ignored would connect
 * somewhere, or somehow, the operator did not ask.
 *
 * @param host the server's host name or IP address (an IPv6 one without its brackets); empty for a UNIX socket
 * @param port the server's TCP port; 0 for a UNIX socket
 * @param socket the UNIX socket's absolute path; empty for TCP
 * @param exportName the path without its leading '/', percent-decoded; empty for the default export
 * @param tls the upstream's tls setting the scheme means: off (nbd) or require (nbds)
 * @param tlsCertificates tls-certificates=, as an absolute path, when given
 * @param tlsPsk tls-psk-file=, as an absolute path, when given
 * @param tlsUsername the user name before '@', percent-decoded, when given (only ever with tlsPsk)
 */
record NbdUri(String host, int port, String socket, String exportName, String tls,
        Optional<String> tlsCertificates, Optional<String> tlsPsk, Optional<String> tlsUsername) {
    static final int DEFAULT_PORT = 10809;
    static final List<String> SCHEMES = List.of("nbd", "nbds", "nbd+unix", "nbds+unix");
    /** The query parameters read, as libnbd spells them. */
    static final List<String> PARAMETERS = List.of("socket", "tls-certificates", "tls-psk-file");

    /** A scheme and "://": an address (host name, IP address, socket path) never starts like that. */
    private static final Pattern LOOKS_LIKE_URI = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://.*", Pattern.DOTALL);

    /** Whether -C's value is meant as a URI (and so must parse as one) rather than a host or a socket path. */
    static boolean looksLikeUri(String address) {
        return LOOKS_LIKE_URI.matcher(address).matches();
    }

    /** Where to connect, as the rest of the command line holds it. */
    Address address() {
        return socket.isEmpty() ? new Address(host, port) : Address.unix(socket);
    }

    /** Reads a URI; relative paths in it are made absolute against the working folder, as paths in flags are. */
    static NbdUri parse(String text) throws Invalid {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new Invalid("is not a valid URI: " + e.getMessage());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!SCHEMES.contains(scheme)) {
            throw new Invalid("has the scheme '" + scheme + "', which is not supported (only "
                    + String.join("://, ", SCHEMES) + "://)");
        }
        if (uri.getRawFragment() != null) {
            throw new Invalid("has a fragment ('#" + uri.getRawFragment() + "'), which is not supported");
        }
        Map<String, String> query = query(uri.getRawQuery());
        String exportName = exportName(uri.getRawPath());
        String tls = scheme.startsWith("nbds") ? "require" : "off";
        Optional<String> certificates = query.containsKey("tls-certificates")
                ? Optional.of(absolute("tls-certificates", query.get("tls-certificates"))) : Optional.empty();
        Optional<String> psk = query.containsKey("tls-psk-file")
                ? Optional.of(absolute("tls-psk-file", query.get("tls-psk-file"))) : Optional.empty();
        if (certificates.isPresent() && psk.isPresent()) {
            throw new Invalid("has tls-certificates= and tls-psk-file=: X.509 certificates or a pre-shared key, not"
                    + " both");
        }
        // Read from the raw authority: java.net.URI has no user info for "alice@" without a host.
        String authority = uri.getRawAuthority();
        Optional<String> username = Optional.empty();
        if (authority != null && authority.contains("@")) {
            username = Optional.of(username(authority.substring(0, authority.lastIndexOf('@')), psk.isPresent()));
            authority = authority.substring(authority.lastIndexOf('@') + 1);
        }
        if (scheme.endsWith("+unix")) {
            if (authority != null && !authority.isEmpty()) {
                throw new Invalid("names a host ('" + authority + "'), but a " + scheme
                        + ":// URI takes none: write " + scheme + ":///EXPORT?socket=PATH");
            }
            String socket = query.get("socket");
            if (socket == null) {
                throw new Invalid("needs the socket's path: " + scheme + ":///EXPORT?socket=PATH");
            }
            return new NbdUri("", 0, absolute("socket", socket), exportName, tls, certificates, psk, username);
        }
        if (query.containsKey("socket")) {
            throw new Invalid("has socket=, which is for nbd+unix:// and nbds+unix:// only");
        }
        return new NbdUri(host(uri), port(uri), "", exportName, tls, certificates, psk, username);
    }

    /** libnbd's TLS PSK user name: the identity to take from tls-psk-file=, so meaningless without it. */
    private static String username(String rawUserInfo, boolean withPsk) throws Invalid {
        if (rawUserInfo.contains(":")) {
            // Not echoed: it may be a password. libnbd has no use for one either; the key is in the file.
            throw new Invalid("has a password after the user name, which is not supported: the key is in"
                    + " tls-psk-file=FILE");
        }
        String name = decode(rawUserInfo, "the user name");
        if (name.isEmpty() || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new Invalid("has an empty user name, or one with control characters, before '@'");
        }
        if (!withPsk) {
            throw new Invalid("has a user name ('" + rawUserInfo + "@'), which is the identity of a pre-shared key:"
                    + " it needs tls-psk-file=FILE");
        }
        return name;
    }

    private static String host(URI uri) throws Invalid {
        if (uri.getHost() == null) {
            // java.net.URI leaves the host out when the authority is not host[:port] (an empty one, a bad port).
            throw new Invalid(uri.getRawAuthority() == null ? "needs a host: nbd://HOST[:PORT][/EXPORT]"
                    : "has '" + uri.getRawAuthority() + "', which is not HOST[:PORT]");
        }
        String host = uri.getHost();
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    private static int port(URI uri) throws Invalid {
        int port = uri.getPort();
        if (port == -1) {
            return DEFAULT_PORT;
        }
        if (port < 1 || port > 65535) {
            throw new Invalid("has the port " + port + ", which is not from 1 to 65535");
        }
        return port;
    }

    /** libnbd's export name: the path without its leading '/' (so "nbd://h//x" asks for "/x"). */
    private static String exportName(String rawPath) throws Invalid {
        String path = rawPath == null ? "" : rawPath;
        return decode(path.startsWith("/") ? path.substring(1) : path, "the export name");
    }

    /** The parameters this proxy reads; any other is refused by name, as is one given twice. */
    private static Map<String, String> query(String rawQuery) throws Invalid {
        Map<String, String> parameters = new LinkedHashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return parameters;
        }
        for (String pair : rawQuery.split("&", -1)) {
            int equals = pair.indexOf('=');
            String name = decode(equals < 0 ? pair : pair.substring(0, equals), "a query parameter's name");
            String value = equals < 0 ? "" : decode(pair.substring(equals + 1), name + "=");
            if (!PARAMETERS.contains(name)) {
                throw new Invalid("has the query parameter '" + name + "', which is not supported (only socket=,"
                        + " tls-certificates= and tls-psk-file=)");
            }
            if (value.isEmpty()) {
                throw new Invalid("has " + name + "= without a path");
            }
            if (parameters.put(name, value) != null) {
                throw new Invalid("has " + name + "= twice");
            }
        }
        return parameters;
    }

    /** Percent-decoding as in a URI, and nothing else ('+' stays '+'); the bytes must be UTF-8. */
    private static String decode(String raw, String what) throws Invalid {
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int i = 0;
        while (i < raw.length()) {
            int escape = raw.indexOf('%', i);
            if (escape != i) {
                // A run of plain characters, whole: a character outside the BMP is two chars.
                int end = escape < 0 ? raw.length() : escape;
                bytes.writeBytes(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
                i = end;
                continue;
            }
            int high = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
            int low = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 2), 16) : -1;
            if (high < 0 || low < 0) {
                throw new Invalid("has a '%' not followed by two hexadecimal digits in " + what);
            }
            bytes.write(high << 4 | low);
            i += 3;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new Invalid("has percent-escapes that are not UTF-8 in " + what);
        }
    }

    private static String absolute(String parameter, String path) throws Invalid {
        try {
            return Path.of(path).toAbsolutePath().normalize().toString();
        } catch (InvalidPathException e) {
            throw new Invalid("has " + parameter + "= with a path that cannot be one: " + e.getReason());
        }
    }

    /** A URI the proxy cannot use; the message says why, to follow the URI itself. */
    static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message, null, false, false);
        }
    }
}
