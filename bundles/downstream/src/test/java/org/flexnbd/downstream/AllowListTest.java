package org.flexnbd.downstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipalLookupService;

import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class AllowListTest {
    private final UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private AllowList allow(String text) {
        return AllowList.parse(text, lookup);
    }

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    /** An IPv4-mapped address kept as IPv6 (InetAddress.getByName would turn it into IPv4 at once). */
    private static InetAddress mapped(int a, int b, int c, int d) throws Exception {
        byte[] bytes = new byte[16];
        bytes[10] = (byte) 0xff;
        bytes[11] = (byte) 0xff;
        bytes[12] = (byte) a;
        bytes[13] = (byte) b;
        bytes[14] = (byte) c;
        bytes[15] = (byte) d;
        return Inet6Address.getByAddress(null, bytes, -1);
    }

    private String malformed(String text) {
        try {
            allow(text);
            fail("accepted allow=" + text);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    private UnixDomainPrincipal principal(String uid, String gid) throws Exception {
        return new UnixDomainPrincipal(lookup.lookupPrincipalByName(uid), lookup.lookupPrincipalByGroupName(gid));
    }

    @Test
    public void emptyLetsEveryoneIn() throws Exception {
        for (String text : new String[] {"", "  ", null}) {
            AllowList a = allow(text);
            assertTrue(a.everyone());
            assertTrue(a.permits(ip("192.0.2.1")));
            assertTrue(a.permits(ip("2001:db8::1")));
            assertTrue(a.permits(principal("0", "0")));
            assertTrue(a.letsAnyoneIn(true) && a.letsAnyoneIn(false));
        }
    }

    @Test
    public void ipv4AddressesAndNetworks() throws Exception {
        AllowList a = allow("127.0.0.2, 10.1.0.0/16 ,192.168.7.130/25");
        assertTrue(a.permits(ip("127.0.0.2")));
        assertFalse(a.permits(ip("127.0.0.1")));
        assertTrue(a.permits(ip("10.1.0.0")));
        assertTrue(a.permits(ip("10.1.255.255")));
        assertFalse(a.permits(ip("10.2.0.0")));
        assertFalse(a.permits(ip("10.0.255.255")));
        // /25 with host bits written: the network is 192.168.7.128-255.
        assertTrue(a.permits(ip("192.168.7.128")));
        assertTrue(a.permits(ip("192.168.7.255")));
        assertFalse(a.permits(ip("192.168.7.127")));
        assertFalse("an IPv6 client never matches an IPv4 entry", a.permits(ip("::a01:0")));
    }

    @Test
    public void ipv4PrefixesAtTheEnds() throws Exception {
        AllowList all = allow("0.0.0.0/0");
        assertTrue(all.permits(ip("1.2.3.4")));
        assertTrue(all.permits(ip("255.255.255.255")));
        assertFalse("/0 of IPv4 is every IPv4 address, not IPv6 ones", all.permits(ip("2001:db8::1")));
        AllowList one = allow("198.51.100.7/32");
        assertTrue(one.permits(ip("198.51.100.7")));
        assertFalse(one.permits(ip("198.51.100.6")));
        AllowList odd = allow("172.16.0.0/12");
        assertTrue(odd.permits(ip("172.31.255.255")));
        assertFalse(odd.permits(ip("172.32.0.0")));
        assertFalse(odd.permits(ip("172.15.255.255")));
    }

    @Test
    public void ipv6AddressesAndNetworks() throws Exception {
        AllowList a = allow("::1,2001:db8:abcd::/48, fe80::/10");
        assertTrue(a.permits(ip("::1")));
        assertFalse(a.permits(ip("::2")));
        assertTrue(a.permits(ip("2001:db8:abcd:ffff::1")));
        assertFalse(a.permits(ip("2001:db8:abce::1")));
        assertTrue(a.permits(ip("febf::1")));
        assertFalse(a.permits(ip("fec0::1")));
        assertFalse(a.permits(ip("127.0.0.1")));
        assertTrue(allow("::/0").permits(ip("2001:db8::5")));
        assertFalse(allow("::/0").permits(ip("10.0.0.1")));
        AllowList one = allow("2001:db8::5/128");
        assertTrue(one.permits(ip("2001:db8::5")));
        assertFalse(one.permits(ip("2001:db8::4")));
        assertTrue(allow("2001:db8::/127").permits(ip("2001:db8::1")));
        assertFalse(allow("2001:db8::/127").permits(ip("2001:db8::2")));
    }

    @Test
    public void aMappedPeerMatchesIpv4Entries() throws Exception {
        AllowList a = allow("127.0.0.0/8");
        assertTrue(a.permits(mapped(127, 0, 0, 1)));
        assertFalse(a.permits(mapped(128, 0, 0, 1)));
        assertTrue(allow("10.0.0.1").permits(mapped(10, 0, 0, 1)));
        // An entry written mapped is the IPv4 network it stands for, its prefix counted over 128 bits.
        AllowList written = allow("::ffff:10.0.0.0/104");
        assertTrue(written.permits(ip("10.255.0.1")));
        assertTrue(written.permits(mapped(10, 1, 2, 3)));
        assertFalse(written.permits(ip("11.0.0.1")));
        assertTrue(allow("::ffff:192.0.2.1").permits(ip("192.0.2.1")));
    }

    @Test
    public void malformedEntriesAreRefusedByName() {
        assertTrue(malformed("10.0.0.0/33").contains("'10.0.0.0/33'"));
        assertTrue(malformed("10.0.0.0/-1").contains("prefix"));
        assertTrue(malformed("10.0.0.0/").contains("prefix"));
        assertTrue(malformed("10.0.0.0/8/8").contains("prefix"));
        assertTrue(malformed("::1/129").contains("prefix"));
        assertTrue(malformed("::ffff:10.0.0.0/64").contains("from 96 to 128"));
        assertTrue(malformed("127.0.0.1,localhost").contains("'localhost'"));
        assertTrue(malformed("localhost").contains("no host names"));
        assertTrue(malformed("example.com/24").contains("no host names"));
        assertTrue(malformed("256.0.0.1").contains("not an IPv4 address"));
        assertTrue(malformed("1.2.3").contains("'1.2.3'"));
        assertTrue(malformed("2001:db8:::1").contains("not an IPv6 address"));
        assertTrue(malformed("[::1]").contains("'[::1]'"));
        assertTrue(malformed("127.0.0.1,,10.0.0.1").contains("empty entry"));
        assertTrue(malformed("127.0.0.1,").contains("empty entry"));
        assertTrue(malformed("uid:").contains("'uid:'"));
        assertTrue(malformed("gid:").contains("'gid:'"));
        assertTrue(malformed("uid:-1").contains("'uid:-1'"));
        assertTrue(malformed("uid:99999999999").contains("too large"));
        assertTrue(malformed("uid:no-such-user-here").contains("no such user"));
        assertTrue(malformed("gid:no-such-group-here").contains("no such group"));
        assertTrue(malformed("user:0").contains("'user:0'"));
    }

    @Test
    public void uidAndGidMatchTheirOwnKindOnly() throws Exception {
        int nobody = 65534;
        AllowList byUid = allow("uid:0");
        assertTrue(byUid.permits(principal("0", "12345")));
        assertFalse(byUid.permits(principal(Integer.toString(nobody), "0")));
        assertFalse("a UNIX entry lets no TCP client in", byUid.permits(ip("127.0.0.1")));
        assertTrue(byUid.letsAnyoneIn(true));
        assertFalse(byUid.letsAnyoneIn(false));
        AllowList byGid = allow("gid:4242");
        assertTrue("a gid with no group entry is still a gid", byGid.permits(principal("1", "4242")));
        assertFalse(byGid.permits(principal("4242", "1")));
        AllowList byAddress = allow("127.0.0.1");
        assertFalse("an address entry lets no UNIX client in", byAddress.permits(principal("0", "0")));
        assertTrue(byAddress.letsAnyoneIn(false));
        assertFalse(byAddress.letsAnyoneIn(true));
    }

    @Test
    public void aNameIsTheSameIdAsItsNumber() throws Exception {
        assertTrue(allow("uid:root").permits(principal("0", "7")));
        assertTrue(allow("gid:root").permits(principal("7", "0")));
        assertFalse(allow("uid:root").permits(principal("7", "0")));
    }

    /** The principals the kernel's SO_PEERCRED gives are compared by id with the configured numbers. */
    @Test
    public void aRealPeerMatchesItsNumericIds() throws Exception {
        Path probe = Files.createFile(tmp.getRoot().toPath().resolve("probe"));
        int uid = (Integer) Files.getAttribute(probe, "unix:uid");
        int gid = (Integer) Files.getAttribute(probe, "unix:gid");
        Path socket = tmp.getRoot().toPath().resolve("s");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                    SocketChannel accepted = server.accept()) {
                UnixDomainPrincipal peer = accepted.getOption(ExtendedSocketOptions.SO_PEERCRED);
                assertTrue(allow("uid:" + uid).permits(peer));
                assertTrue(allow("gid:" + gid).permits(peer));
                assertTrue(allow("uid:" + peer.user().getName()).permits(peer));
                int other = uid == 0 ? 65534 : 0;
                assertFalse(allow("uid:" + other).permits(peer));
                assertFalse(allow("gid:" + (gid == 0 ? 65534 : 0)).permits(peer));
                assertTrue(allow("uid:" + other + ", gid:" + gid).permits(peer));
            }
        }
    }

    @Test
    public void theTextIsKeptAsWritten() {
        assertEquals("127.0.0.1, uid:0", allow("  127.0.0.1, uid:0 ").toString());
    }
}
