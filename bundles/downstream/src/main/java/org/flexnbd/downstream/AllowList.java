package org.flexnbd.downstream;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

import jdk.net.UnixDomainPrincipal;

/**
 * Who may connect: the {@code allow} setting, a comma-separated list of entries, each one of
 * <ul>
 * <li>{@code ADDR} or {@code ADDR/PREFIX}: an IPv4 or IPv6 literal address or network, matched by TCP clients. An
 * IPv4-mapped IPv6 peer ({@code ::ffff:a.b.c.d}, as a {@code ::} listener sees an IPv4 client) matches IPv4 entries.
 * Host names are refused: the list is read once, and a DNS answer is not an identity.</li>
 * <li>{@code uid:N}, {@code gid:N} (or {@code uid:NAME}, {@code gid:NAME}): matched by UNIX-socket clients, against
 * the user and primary group the kernel reports for the peer (SO_PEERCRED).</li>
 * </ul>
 * An empty list lets everyone in. Otherwise a client is let in when one entry of its kind matches: a TCP client is
 * never let in by a uid/gid entry, nor a UNIX-socket client by an address.
 * <p>
 * Java reports a UNIX peer as user and group principals, not numbers. A {@code uid:}/{@code gid:} entry is resolved to
 * a principal once, when the list is read, through the file system's {@link UserPrincipalLookupService}; on Linux,
 * the JDK's principals are equal when their numeric ids are, and the lookup takes a number that is no name as that id
 * (a uid with no passwd entry included). So the accept path compares ids and looks nothing up.
 */
final class AllowList {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    /** Hex digits, colons and the dots of an embedded IPv4 part: nothing the JDK would send to a resolver. */
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");
    private static final Pattern PREFIX = Pattern.compile("\\d{1,3}");
    private static final Pattern NUMBER = Pattern.compile("\\d+");
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*\\$?");
    /** The first 12 bytes of an IPv4-mapped IPv6 address. */
    private static final byte[] MAPPED = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff};

    private final String text;
    private final List<Network> networks;
    private final List<UserPrincipal> users;
    private final List<UserPrincipal> groups;

    private AllowList(String text, List<Network> networks, List<UserPrincipal> users, List<UserPrincipal> groups) {
        this.text = text;
        this.networks = List.copyOf(networks);
        this.users = List.copyOf(users);
        this.groups = List.copyOf(groups);
    }

    /**
     * @param lookup resolves {@code uid:}/{@code gid:} entries (the file system's, in the proxy)
     * @throws IllegalArgumentException naming the first malformed entry and why
     */
    static AllowList parse(String text, UserPrincipalLookupService lookup) {
        List<Network> networks = new ArrayList<>();
        List<UserPrincipal> users = new ArrayList<>();
        List<UserPrincipal> groups = new ArrayList<>();
        String trimmed = text == null ? "" : text.strip();
        if (!trimmed.isEmpty()) {
            for (String raw : trimmed.split(",", -1)) {
                String entry = raw.strip();
                if (entry.startsWith("uid:")) {
                    users.add(principal(entry, lookup, false));
                } else if (entry.startsWith("gid:")) {
                    groups.add(principal(entry, lookup, true));
                } else {
                    networks.add(Network.parse(entry));
                }
            }
        }
        return new AllowList(trimmed, networks, users, groups);
    }

    private static UserPrincipal principal(String entry, UserPrincipalLookupService lookup, boolean group) {
        String id = entry.substring(4);
        boolean number = NUMBER.matcher(id).matches();
        if (number && (id.length() > 10 || Long.parseLong(id) > Integer.MAX_VALUE)) {
            throw malformed(entry, "the id is too large");
        }
        if (!number && !NAME.matcher(id).matches()) {
            throw malformed(entry, "expected a number or a " + (group ? "group" : "user") + " name after '"
                    + entry.substring(0, 4) + "'");
        }
        try {
            return group ? lookup.lookupPrincipalByGroupName(id) : lookup.lookupPrincipalByName(id);
        } catch (UserPrincipalNotFoundException e) {
            throw malformed(entry, "no such " + (group ? "group" : "user"));
        } catch (IOException e) {
            throw malformed(entry, "cannot look it up: " + e.getMessage());
        }
    }

    static IllegalArgumentException malformed(String entry, String why) {
        return new IllegalArgumentException("allow entry '" + entry + "': " + why);
    }

    /** Everyone may connect: the list is empty. */
    boolean everyone() {
        return text.isEmpty();
    }

    /** Whether some entry could ever let in a client of a TCP listener (true) or of a UNIX-socket one (false). */
    boolean letsAnyoneIn(boolean unixListener) {
        return everyone() || (unixListener ? !users.isEmpty() || !groups.isEmpty() : !networks.isEmpty());
    }

    /** A TCP client, by its address. */
    boolean permits(InetAddress peer) {
        if (everyone()) {
            return true;
        }
        byte[] address = unmapped(peer.getAddress());
        for (Network n : networks) {
            if (n.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /** A UNIX-socket client, by the credentials the kernel gave for it. */
    boolean permits(UnixDomainPrincipal peer) {
        return everyone() || users.contains(peer.user()) || groups.contains(peer.group());
    }

    /** An IPv4-mapped IPv6 address as the IPv4 address it stands for; any other unchanged. */
    private static byte[] unmapped(byte[] address) {
        if (address.length == 16 && Arrays.equals(address, 0, MAPPED.length, MAPPED, 0, MAPPED.length)) {
            return Arrays.copyOfRange(address, 12, 16);
        }
        return address;
    }

    @Override
    public String toString() {
        return text;
    }

    /** An address and the number of leading bits that must match it. */
    private record Network(byte[] address, int prefix) {
        static Network parse(String entry) {
            if (entry.isEmpty()) {
                throw malformed(entry, "empty entry (two commas, or a comma at an end)");
            }
            int slash = entry.indexOf('/');
            String literal = slash < 0 ? entry : entry.substring(0, slash);
            byte[] address = literal(entry, literal);
            int bits = address.length * 8;
            // A mapped literal (::ffff:10.0.0.0/104) comes back as IPv4: its prefix counts the 96 bits before it.
            int skipped = literal.contains(":") && address.length == 4 ? 96 : 0;
            int prefix = bits;
            if (slash >= 0) {
                String digits = entry.substring(slash + 1);
                if (!PREFIX.matcher(digits).matches()) {
                    throw malformed(entry, "the prefix after '/' must be a number");
                }
                prefix = Integer.parseInt(digits) - skipped;
                if (prefix < 0 || prefix > bits) {
                    throw malformed(entry, "the prefix must be from " + skipped + " to " + (bits + skipped));
                }
            }
            return new Network(address, prefix);
        }

        /** The address's bytes (4 for IPv4 and IPv4-mapped, 16 for IPv6), without any lookup. */
        private static byte[] literal(String entry, String literal) {
            try {
                if (IPV4.matcher(literal).matches()) {
                    byte[] b = new byte[4];
                    String[] parts = literal.split("\\.");
                    for (int i = 0; i < 4; i++) {
                        int v = Integer.parseInt(parts[i]);
                        if (v > 255) {
                            throw malformed(entry, "not an IPv4 address");
                        }
                        b[i] = (byte) v;
                    }
                    return b;
                }
                if (IPV6.matcher(literal).matches()) {
                    // In brackets, the JDK parses it as an IPv6 literal or fails: it never asks a resolver.
                    InetAddress a = InetAddress.getByName("[" + literal + "]");
                    return a instanceof Inet4Address ? a.getAddress() : unmapped(a.getAddress());
                }
            } catch (UnknownHostException e) {
                throw malformed(entry, "not an IPv6 address");
            }
            throw malformed(entry, "expected an IPv4 or IPv6 address (no host names), uid:N or gid:N");
        }

        boolean contains(byte[] peer) {
            if (peer.length != address.length) {
                return false;
            }
            int whole = prefix / 8;
            if (!Arrays.equals(peer, 0, whole, address, 0, whole)) {
                return false;
            }
            int rest = prefix % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xff << (8 - rest)) & 0xff;
            return (peer[whole] & mask) == (address[whole] & mask);
        }
    }
}
