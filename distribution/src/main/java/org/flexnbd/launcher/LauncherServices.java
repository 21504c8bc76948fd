package org.flexnbd.launcher;

import java.util.Dictionary;
import java.util.Hashtable;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

import org.osgi.framework.BundleContext;

/**
 * How the command line crosses into the framework and the exit status comes back, with nothing but java.* types
 * (so no API jar is shared and nothing is static): a {@code Supplier<String[]>} of the arguments and an
 * {@code IntConsumer} of the exit status, registered by the system bundle with the property
 * {@code flexnbd.launcher=args} and {@code flexnbd.launcher=exit}. The cli bundle references both.
 */
final class LauncherServices {
    static final String PROPERTY = "flexnbd.launcher";

    private LauncherServices() {
    }

    static void register(BundleContext context, String[] args, IntConsumer exit) {
        String[] copy = args.clone();
        Supplier<String[]> arguments = copy::clone;
        context.registerService(Supplier.class, arguments, property("args"));
        context.registerService(IntConsumer.class, exit, property("exit"));
    }

    private static Dictionary<String, Object> property(String value) {
        Hashtable<String, Object> p = new Hashtable<>();
        p.put(PROPERTY, value);
        return p;
    }
}
