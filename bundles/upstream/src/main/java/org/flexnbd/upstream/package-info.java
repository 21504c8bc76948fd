/** The upstream connector: private; other bundles use it through {@code org.flexnbd.protocol.service.Upstream}. */
package org.flexnbd.upstream;
