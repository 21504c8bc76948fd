package org.flexnbd.upstream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.util.Map;

import org.flexnbd.protocol.ExportInfo;
import org.flexnbd.protocol.Nbd;
import org.flexnbd.protocol.UpstreamExport;
import org.junit.Test;

public class ReferenceExportTest {
    private static final int FLAGS = Nbd.FLAG_HAS_FLAGS | Nbd.FLAG_SEND_FLUSH;

    private static UpstreamExport export(long size, Map<String, Integer> contexts) {
        return new UpstreamExport(ExportInfo.of("", size, FLAGS), false, true, contexts);
    }

    @Test
    public void theFirstConnectionSetsItAndLaterOnesMustMatch() throws Exception {
        ReferenceExport ref = new ReferenceExport();
        UpstreamExport first = export(1 << 20, Map.of("base:allocation", 1));
        assertNull(ref.check(first));
        assertSame(first, ref.await(0));
        assertNull(ref.check(export(1 << 20, Map.of("base:allocation", 7))));
        assertTrue(ref.check(export(2 << 20, Map.of("base:allocation", 1))).contains("size changed"));
        assertTrue(ref.check(export(1 << 20, Map.of())).contains("meta contexts"));
        assertSame("a mismatch does not replace it", first, ref.get());
    }

    @Test
    public void contextIdsAreMappedBackToTheFirstConnections() {
        ReferenceExport ref = new ReferenceExport();
        ref.check(export(4096, Map.of("base:allocation", 1, "qemu:dirty-bitmap:b", 2)));
        assertEquals(Map.of(5, 1, 9, 2), ref.contextIdMap(export(4096, Map.of("base:allocation", 5,
                "qemu:dirty-bitmap:b", 9))));
        assertEquals("the same ids need no mapping", Map.of(), ref.contextIdMap(export(4096,
                Map.of("base:allocation", 1, "qemu:dirty-bitmap:b", 2))));
    }

    @Test
    public void awaitGivesUpAfterItsTime() throws Exception {
        ReferenceExport ref = new ReferenceExport();
        long start = System.nanoTime();
        assertNull(ref.await(50));
        assertTrue(System.nanoTime() - start >= 40_000_000L);
    }
}
