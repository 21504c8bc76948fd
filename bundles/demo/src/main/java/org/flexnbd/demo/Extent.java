package org.flexnbd.demo;

/**
 * A run of the export with one allocation status, as base:allocation reports it.
 *
 * @param length bytes in the run
 * @param flags NBD_STATE_* bits: 0 for data, {@link #HOLE} | {@link #ZERO} for never-written space
 */
record Extent(long length, int flags) {
    static final int HOLE = 1;
    static final int ZERO = 2;
}
