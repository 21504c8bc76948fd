/**
 * Non-blocking I/O for the data path: one thread's {@link org.flexnbd.protocol.loop.EventLoop} over a client's
 * socket and its upstream connection, what waits to be written on a socket ({@link org.flexnbd.protocol.loop.Outbound})
 * and a message read in pieces as it arrives ({@link org.flexnbd.protocol.loop.Inbound}). The measurements behind
 * the design (one loop per client and its upstream connection, instead of threads handing each request to each
 * other) are in docs/BENCHMARKS.md, "What an event loop would buy". Pure Java: no OSGi types.
 */
@Export
@Version("1.0.0")
package org.flexnbd.protocol.loop;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
