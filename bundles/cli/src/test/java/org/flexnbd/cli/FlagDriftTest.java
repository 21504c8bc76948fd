package org.flexnbd.cli;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.junit.Test;

/**
 * The flags that --help, the README's flag table and the manual page's OPTIONS each list are the parser's own:
 * none missing, none extra, and a short flag paired with a long one ("-l, --addr") is one option. A flag added to
 * {@link ArgumentParser} fails this test until all three list it.
 */
public class FlagDriftTest {
    /** A flag as the documents spell it: -l or --conn-addr (a value such as =BYTES or &lt;ADDR&gt; is not part of it). */
    private static final Pattern FLAG = Pattern.compile("(?<![\\w-])(--[a-z][a-z0-9-]*|-[A-Za-z])(?![\\w])");
    private static final Path MANUAL = Path.of("distribution", "src", "main", "asciidoc", "flexnbd-proxy.adoc");

    @Test
    public void helpListsTheParsersFlags() {
        assertSameFlags("--help", help(ArgumentParser.usage()));
    }

    @Test
    public void readmeFlagTableListsTheParsersFlags() throws IOException {
        assertSameFlags("README.md (## Command line, the flag table)", readme(read(root().resolve("README.md"))));
    }

    @Test
    public void manualPageListsTheParsersFlags() throws IOException {
        assertSameFlags(MANUAL + " (== OPTIONS)", manual(read(root().resolve(MANUAL))));
    }

    /** The extraction itself: a flag that is not the parser's, or one left out, is reported. */
    @Test
    public void driftIsCaught() {
        List<List<String>> entries = new ArrayList<>(help(ArgumentParser.usage()));
        entries.add(List.of("--no-such-flag"));
        entries.remove(0);
        String message = drift("test", entries);
        assertTrue(message, message.contains("lists flags the parser lacks: [--no-such-flag]"));
        assertTrue(message, message.contains("lacks the parser's flags: [--addr, -l]"));
        String pairing = drift("test", List.of(List.of("-l", "--port")));
        assertTrue(pairing, pairing.contains("pairs -l with --port"));
    }

    @Test
    public void extractionFromEachFormat() {
        assertEquals(List.of(List.of("-l", "--addr"), List.of("--cache")),
                help(" usage: flexnbd-proxy -l ADDR\n\n -l, --addr <ADDR>     address, see --port\n"
                        + "                        (then no --port)\n --cache <BYTES>       read-ahead\n"));
        assertEquals(List.of(List.of("-v", "--verbose", "-q", "--quiet"), List.of("--cache")),
                readme("## Command line\n\n| flag | meaning |\n|---|---|\n| `-v, --verbose` / `-q, --quiet` | see"
                        + " `--debug` |\n| `--cache[=BYTES]` | cache |\n\nNot the table: `--demo`\n"));
        assertEquals(List.of(List.of("-l", "--addr"), List.of("--cache")),
                manual("== SYNOPSIS\n\n*-x*::\n\n== OPTIONS\n\nSee *--demo*.\n\n*-l*, *--addr*=_ADDR_::\n  Then no"
                        + " *--port*.\n\n*--cache*[=_BYTES_]::\n  x\n\n== EXIT STATUS\n\n*-y*::\n"));
    }

    private static void assertSameFlags(String source, List<List<String>> entries) {
        assertFalse(source + ": no flags found at all (has its format changed?)", entries.isEmpty());
        String message = drift(source, entries);
        if (!message.isEmpty()) {
            fail(message);
        }
    }

    /** What is wrong with the flags a source lists, against the parser's; empty when nothing is. */
    private static String drift(String source, List<List<String>> entries) {
        Options options = ArgumentParser.options();
        Set<String> parser = new TreeSet<>();
        for (Option o : options.getOptions()) {
            if (o.getOpt() != null) {
                parser.add("-" + o.getOpt());
            }
            if (o.getLongOpt() != null) {
                parser.add("--" + o.getLongOpt());
            }
        }
        Set<String> listed = new TreeSet<>();
        StringBuilder problems = new StringBuilder();
        for (List<String> entry : entries) {
            listed.addAll(entry);
            for (int i = 0; i + 1 < entry.size(); i++) {
                String a = entry.get(i);
                String b = entry.get(i + 1);
                if (!a.startsWith("--") && b.startsWith("--") && options.hasOption(a) && options.hasOption(b)
                        && !options.getOption(a).equals(options.getOption(b))) {
                    problems.append("\n  pairs ").append(a).append(" with ").append(b)
                            .append(", which are different options");
                }
            }
        }
        Set<String> extra = new TreeSet<>(listed);
        extra.removeAll(parser);
        Set<String> missing = new TreeSet<>(parser);
        missing.removeAll(listed);
        if (!extra.isEmpty()) {
            problems.append("\n  lists flags the parser lacks: ").append(extra);
        }
        if (!missing.isEmpty()) {
            problems.append("\n  lacks the parser's flags: ").append(missing);
        }
        return problems.length() == 0 ? "" : source + " and ArgumentParser.options() disagree:" + problems;
    }

    /** The option rows of the usage text: a line starting (after one blank at most) with a flag; its first column. */
    static List<List<String>> help(String usage) {
        List<List<String>> entries = new ArrayList<>();
        for (String line : usage.split("\n")) {
            if (line.matches(" ?-.*")) {
                entries.add(flags(line.strip().split("\\s{2,}", 2)[0]));
            }
        }
        return entries;
    }

    /** The first column of the table (| flag | meaning |) in the README's "## Command line" section. */
    static List<List<String>> readme(String text) {
        List<List<String>> entries = new ArrayList<>();
        boolean section = false;
        boolean table = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("## ")) {
                section = line.equals("## Command line");
                table = false;
            } else if (section && line.matches("\\|\\s*flag\\s*\\|.*")) {
                table = true;
            } else if (table && line.startsWith("|")) {
                String first = line.substring(1).split("\\|", 2)[0];
                if (!first.matches("\\s*-+\\s*")) {
                    entries.add(flags(first));
                }
            } else if (table) {
                table = false;
                section = false;
            }
        }
        return entries;
    }

    /** The terms (lines ending in ::) of the manual page source's OPTIONS section. */
    static List<List<String>> manual(String text) {
        List<List<String>> entries = new ArrayList<>();
        boolean options = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("== ")) {
                options = line.equals("== OPTIONS");
            } else if (options && line.endsWith("::")) {
                entries.add(flags(line));
            }
        }
        return entries;
    }

    private static List<String> flags(String text) {
        Set<String> flags = new LinkedHashSet<>();
        Matcher m = FLAG.matcher(text);
        while (m.find()) {
            flags.add(m.group(1));
        }
        return List.copyOf(flags);
    }

    private static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8).replace("\r\n", "\n");
    }

    /** The repository's root: the first folder up from the module's that holds the README and the manual. */
    private static Path root() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("README.md")) && Files.isRegularFile(p.resolve(MANUAL))) {
                return p;
            }
        }
        throw new AssertionError("no README.md with " + MANUAL + " above " + Path.of("").toAbsolutePath());
    }
}
