/**
 * The NBD protocol (the {@code proto.md} of the NetworkBlockDevice project): constants, immutable values, and
 * codecs for the oldstyle and fixed newstyle handshakes from both sides and for the transmission phase.
 * Pure Java: no OSGi types. Decoders validate everything and throw {@link NbdException}.
 */
@Export
@Version("1.1.0")
package org.flexnbd.protocol;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
