/** The downstream listener: private; other bundles see it as {@code org.flexnbd.protocol.service.Downstream}. */
package org.flexnbd.downstream;
