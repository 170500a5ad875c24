// The Signal timeline panel's behaviour: tabs, tree folding, details,
// filters, search and links from findings to events. Loaded as a module by
// the toolbar each time the panel is rendered (ajax, History panel switch).
import * as utils from "../debug_toolbar/js/utils.js";

const PANEL_ID = "SignalTimelinePanel";

function debugRoot() {
    // Toolbar 7+ renders inside a shadow root and exports getDebugElement();
    // 6.x renders in the document.
    if (typeof utils.getDebugElement === "function") {
        return utils.getDebugElement();
    }
    return document.getElementById("djDebug");
}

function eventRows(panel) {
    return Array.from(panel.querySelectorAll("tr.djsp-event"));
}

function childrenMap(rows) {
    const children = new Map();
    for (const row of rows) {
        const parent = row.dataset.djspParent;
        if (!children.has(parent)) {
            children.set(parent, []);
        }
        children.get(parent).push(row);
    }
    return children;
}

function descendants(row, children) {
    const found = [];
    const stack = [...(children.get(row.dataset.djspEvent) || [])];
    while (stack.length) {
        const current = stack.pop();
        found.push(current);
        stack.push(...(children.get(current.dataset.djspEvent) || []));
    }
    return found;
}

function setExpanded(button, expanded) {
    button.setAttribute("aria-expanded", String(expanded));
    button.textContent = expanded ? "▾" : "▸";
    // The label names what a press does next (data-djsp-show / -hide).
    const label = expanded ? button.dataset.djspHide : button.dataset.djspShow;
    if (label) {
        button.setAttribute("aria-label", label);
    }
}

function setupTabs(panel) {
    const tabs = Array.from(panel.querySelectorAll("[data-djsp-tab]"));
    function select(tab) {
        for (const other of tabs) {
            const selected = other === tab;
            other.setAttribute("aria-selected", String(selected));
            other.tabIndex = selected ? 0 : -1;
            const view = panel.querySelector(
                `[data-djsp-view="${other.dataset.djspTab}"]`
            );
            if (view) {
                view.hidden = !selected;
            }
        }
    }
    for (const tab of tabs) {
        tab.addEventListener("click", () => select(tab));
        // The tab list's keys: arrows move between tabs, Home and End to the ends.
        tab.addEventListener("keydown", (event) => {
            const index = tabs.indexOf(tab);
            const next = {
                ArrowRight: tabs[(index + 1) % tabs.length],
                ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
                Home: tabs[0],
                End: tabs[tabs.length - 1],
            }[event.key];
            if (next) {
                event.preventDefault();
                select(next);
                next.focus();
            }
        });
    }
    const current = tabs.find((tab) => tab.getAttribute("aria-selected") === "true");
    if (current) {
        select(current);
    }
}

function setupTimeline(panel) {
    const rows = eventRows(panel);
    const children = childrenMap(rows);
    const byId = new Map(rows.map((row) => [row.dataset.djspEvent, row]));
    const collapsed = new Set();
    const openGroups = new Set();

    function hiddenByTree(row) {
        let parent = byId.get(row.dataset.djspParent);
        while (parent) {
            if (collapsed.has(parent.dataset.djspEvent)) {
                return true;
            }
            parent = byId.get(parent.dataset.djspParent);
        }
        return false;
    }

    const form = panel.querySelector(".djsp-filters");
    const status = panel.querySelector("[data-djsp-status]");

    function filterValues() {
        if (!form) {
            return {};
        }
        return {
            signal: form.elements.signal.value,
            sender: form.elements.sender.value,
            flagged: form.elements.flagged.checked,
            hideSilent: Boolean(form.elements.hide_silent?.checked),
            query: form.elements.q.value.trim().toLowerCase(),
        };
    }

    function matches(row, filters) {
        const data = row.dataset;
        if (filters.signal && data.djspSignal !== filters.signal) return false;
        if (filters.sender && data.djspSender !== filters.sender) return false;
        if (filters.flagged && !data.djspFlags) return false;
        if (filters.hideSilent && data.djspReceivers === "0") return false;
        if (filters.query && !data.djspSearch.includes(filters.query)) return false;
        return true;
    }

    function render() {
        const filters = filterValues();
        const filtering = Boolean(
            filters.signal ||
                filters.sender ||
                filters.flagged ||
                filters.hideSilent ||
                filters.query
        );
        // A matching row keeps its ancestors visible, dimmed, for context.
        const shown = new Set();
        const context = new Set();
        let matched = 0;
        for (const row of rows) {
            if (!filtering || matches(row, filters)) {
                shown.add(row);
                matched += 1;
                let parent = byId.get(row.dataset.djspParent);
                while (parent && !shown.has(parent) && !context.has(parent)) {
                    context.add(parent);
                    parent = byId.get(parent.dataset.djspParent);
                }
            }
        }
        for (const row of rows) {
            const member = row.dataset.djspMember;
            const inClosedGroup = member && !openGroups.has(member) && !filtering;
            const visible =
                (shown.has(row) || context.has(row)) &&
                !hiddenByTree(row) &&
                !inClosedGroup;
            row.hidden = !visible;
            row.classList.toggle("djsp-context", context.has(row) && !shown.has(row));
        }
        for (const group of panel.querySelectorAll("tr.djsp-group")) {
            group.hidden = filtering || hiddenByTree(group);
        }
        if (status) {
            status.textContent = filtering
                ? `${matched} of ${rows.length} dispatches match`
                : "";
        }
    }

    panel.addEventListener("click", (event) => {
        const button = event.target.closest("[data-djsp-action]");
        if (!button || !panel.contains(button)) {
            return;
        }
        const action = button.dataset.djspAction;
        if (action === "tree") {
            const row = button.closest("tr");
            const id = row.dataset.djspEvent;
            const expand = collapsed.has(id);
            if (expand) {
                collapsed.delete(id);
            } else {
                collapsed.add(id);
            }
            setExpanded(button, expand);
            render();
        } else if (action === "details") {
            const details = panel.querySelector(
                `#${button.getAttribute("aria-controls")}`
            );
            const open = button.getAttribute("aria-expanded") !== "true";
            button.setAttribute("aria-expanded", String(open));
            details.hidden = !open;
        } else if (action === "group") {
            const group = button.closest("tr").dataset.djspGroup;
            const open = !openGroups.has(group);
            if (open) {
                openGroups.add(group);
            } else {
                openGroups.delete(group);
            }
            setExpanded(button, open);
            render();
        } else if (action === "expand-all" || action === "collapse-all") {
            const expand = action === "expand-all";
            collapsed.clear();
            openGroups.clear();
            for (const toggle of panel.querySelectorAll('[data-djsp-action="tree"]')) {
                if (!expand) {
                    collapsed.add(toggle.closest("tr").dataset.djspEvent);
                }
                setExpanded(toggle, expand);
            }
            for (const toggle of panel.querySelectorAll('[data-djsp-action="group"]')) {
                if (expand) {
                    openGroups.add(toggle.closest("tr").dataset.djspGroup);
                }
                setExpanded(toggle, expand);
            }
            render();
        }
    });

    // Findings link to their events: reveal, open and scroll to the row.
    panel.addEventListener("click", (event) => {
        const link = event.target.closest("[data-djsp-goto]");
        if (!link || !panel.contains(link)) {
            return;
        }
        event.preventDefault();
        const row = byId.get(link.dataset.djspGoto);
        if (!row) {
            return;
        }
        const timelineTab = panel.querySelector('[data-djsp-tab="timeline"]');
        if (timelineTab) {
            timelineTab.click();
        }
        let parent = byId.get(row.dataset.djspParent);
        while (parent) {
            collapsed.delete(parent.dataset.djspEvent);
            const toggle = parent.querySelector('[data-djsp-action="tree"]');
            if (toggle) {
                setExpanded(toggle, true);
            }
            parent = byId.get(parent.dataset.djspParent);
        }
        if (row.dataset.djspMember) {
            openGroups.add(row.dataset.djspMember);
        }
        if (form) {
            form.reset();
        }
        render();
        const details = row.querySelector('[data-djsp-action="details"]');
        if (details && details.getAttribute("aria-expanded") !== "true") {
            details.click();
        }
        for (const other of panel.querySelectorAll(".djsp-target-row")) {
            other.classList.remove("djsp-target-row");
        }
        row.classList.add("djsp-target-row");
        row.scrollIntoView({ block: "center" });
        details?.focus();
    });

    if (form) {
        form.addEventListener("input", render);
        form.addEventListener("change", render);
        form.addEventListener("submit", (event) => event.preventDefault());
    }
    render();
}

function setup() {
    const root = debugRoot();
    const panel = root?.querySelector(`#${PANEL_ID} [data-djsp-root]`);
    if (!panel || panel.dataset.djspReady) {
        return;
    }
    panel.dataset.djspReady = "1";
    setupTabs(panel);
    setupTimeline(panel);
}

// The first render may have happened before this module loaded.
setup();
const root = debugRoot();
if (root) {
    utils.$$.onPanelRender(root, PANEL_ID, setup);
}
