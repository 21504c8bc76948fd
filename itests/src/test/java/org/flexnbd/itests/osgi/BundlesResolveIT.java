package org.flexnbd.itests.osgi;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import javax.inject.Inject;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

/**
 * The appliance assembles: Felix with SCR and ConfigAdmin resolves and starts every project bundle, and SCR has
 * registered the components each bundle declares. Nothing is configured here, so the components (configuration
 * policy REQUIRE) wait for their configurations.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class BundlesResolveIT {
    /**
     * Components that must be there, by bundle and configuration PID: the PIDs are what the cli writes
     * configurations to. Add a bundle's components here when they land.
     */
    private static final Map<String, List<String>> REQUIRED_PIDS = Map.of(
            "flexnbd-upstream", List.of("org.flexnbd.upstream"),
            "flexnbd-downstream", List.of("org.flexnbd.downstream"));

    @Inject
    private BundleContext context;

    @Inject
    private ServiceComponentRuntime scr;

    @Configuration
    public Option[] config() {
        return Provisioning.appliance();
    }

    @Test
    public void everyProjectBundleIsActive() {
        Map<String, String> expected = new TreeMap<>();
        Map<String, String> actual = new TreeMap<>();
        for (String name : Provisioning.PROJECT) {
            Bundle b = Provisioning.find(context, name);
            expected.put(name, "ACTIVE");
            actual.put(name, b == null ? "NOT INSTALLED" : state(b.getState()));
        }
        assertEquals("project bundles by symbolic name", expected, actual);
    }

    @Test
    public void scrHasRegisteredEveryDeclaredComponent() {
        Map<String, Integer> declared = new TreeMap<>();
        Map<String, Integer> registered = new TreeMap<>();
        for (String name : Provisioning.PROJECT) {
            Bundle b = bundle(name);
            declared.put(name, declaredComponentFiles(b));
            registered.put(name, scr.getComponentDescriptionDTOs(b).size());
        }
        assertEquals("components declared (Service-Component entries) vs registered with SCR, by bundle; "
                + describe(), declared, registered);
    }

    @Test
    public void theRequiredComponentsAreThereAndEnabled() {
        for (Map.Entry<String, List<String>> e : REQUIRED_PIDS.entrySet()) {
            Bundle b = bundle(e.getKey());
            for (String pid : e.getValue()) {
                ComponentDescriptionDTO found = null;
                for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs(b)) {
                    if (Arrays.asList(d.configurationPid).contains(pid)) {
                        found = d;
                    }
                }
                assertTrue(e.getKey() + " has no component with configuration PID " + pid + "; " + describe(),
                        found != null);
                assertTrue(found.name + " is not enabled", scr.isComponentEnabled(found));
            }
        }
    }

    @Test
    public void unconfiguredComponentsWaitAndNoneFailed() {
        List<String> wrong = new ArrayList<>();
        for (String name : Provisioning.PROJECT) {
            for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs(bundle(name))) {
                for (ComponentConfigurationDTO c : scr.getComponentConfigurationDTOs(d)) {
                    boolean waiting = c.state == ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION;
                    if (c.state == ComponentConfigurationDTO.FAILED_ACTIVATION
                            || ("require".equals(d.configurationPolicy) && !waiting)) {
                        wrong.add(name + " " + d.name + " " + componentState(c.state)
                                + (c.failure == null ? "" : ": " + c.failure));
                    }
                }
            }
        }
        assertTrue("with no configuration, these components should wait for one: " + wrong + "; " + describe(),
                wrong.isEmpty());
    }

    private Bundle bundle(String symbolicName) {
        Bundle b = Provisioning.find(context, symbolicName);
        if (b == null) {
            throw new AssertionError("bundle " + symbolicName + " is not installed");
        }
        return b;
    }

    /** How many component descriptions the bundle's Service-Component header names (bnd writes one per file). */
    private static int declaredComponentFiles(Bundle b) {
        String header = b.getHeaders().get("Service-Component");
        if (header == null || header.isBlank()) {
            return 0;
        }
        int n = 0;
        for (String entry : header.split(",")) {
            String path = entry.trim();
            int slash = path.lastIndexOf('/');
            String dir = slash < 0 ? "/" : path.substring(0, slash);
            String pattern = path.substring(slash + 1);
            var found = b.findEntries(dir, pattern, false);
            while (found != null && found.hasMoreElements()) {
                found.nextElement();
                n++;
            }
        }
        return n;
    }

    /** Every project bundle with its components and their states, for failure messages. */
    private String describe() {
        StringBuilder s = new StringBuilder("components by bundle:");
        for (String name : Provisioning.PROJECT) {
            Bundle b = Provisioning.find(context, name);
            s.append("\n  ").append(name);
            if (b == null) {
                s.append(" (not installed)");
                continue;
            }
            s.append(" [").append(state(b.getState())).append("]");
            Collection<ComponentDescriptionDTO> ds = scr.getComponentDescriptionDTOs(b);
            if (ds.isEmpty()) {
                s.append(" none");
            }
            for (ComponentDescriptionDTO d : ds) {
                TreeSet<String> states = new TreeSet<>();
                for (ComponentConfigurationDTO c : scr.getComponentConfigurationDTOs(d)) {
                    states.add(componentState(c.state));
                }
                s.append("\n    ").append(d.name).append(" pid=").append(Arrays.toString(d.configurationPid))
                        .append(" policy=").append(d.configurationPolicy).append(" ").append(states);
            }
        }
        return s.toString();
    }

    private static String state(int state) {
        switch (state) {
            case Bundle.UNINSTALLED: return "UNINSTALLED";
            case Bundle.INSTALLED: return "INSTALLED";
            case Bundle.RESOLVED: return "RESOLVED";
            case Bundle.STARTING: return "STARTING";
            case Bundle.STOPPING: return "STOPPING";
            case Bundle.ACTIVE: return "ACTIVE";
            default: return "state " + state;
        }
    }

    private static String componentState(int state) {
        switch (state) {
            case ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION: return "UNSATISFIED_CONFIGURATION";
            case ComponentConfigurationDTO.UNSATISFIED_REFERENCE: return "UNSATISFIED_REFERENCE";
            case ComponentConfigurationDTO.SATISFIED: return "SATISFIED";
            case ComponentConfigurationDTO.ACTIVE: return "ACTIVE";
            case ComponentConfigurationDTO.FAILED_ACTIVATION: return "FAILED_ACTIVATION";
            default: return "state " + state;
        }
    }
}
