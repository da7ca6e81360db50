// The client's copy of the plans (studio/plans, asked again when a session
// changes, as a plan moves only with its sessions), how the sessions view
// groups sessions by plan, and how a plan and its tasks read. Pure.

import { Plan, PlanTask, Session, State } from "./protocol";
import { stateIcon } from "./render";

export class PlanStore {
    private list: Plan[] = [];

    /** Replaces the plans; reports whether anything changed. */
    reset(plans: readonly Plan[]): boolean {
        const same = JSON.stringify(plans) === JSON.stringify(this.list);
        this.list = [...plans];
        return !same;
    }

    all(): Plan[] {
        return this.list;
    }

    clear(): void {
        this.list = [];
    }
}

/** A task of a plan group, with its session when the view knows it. */
export interface TaskEntry {
    task: PlanTask;
    session?: Session;
}

export interface PlanGroup {
    plan: Plan;
    tasks: TaskEntry[];
}

/**
 * Splits the sessions into plan groups and the sessions outside any plan. A
 * plan is shown while it runs, and after that while one of its sessions is
 * still in the view; its tasks keep the plan's order.
 */
export function groupByPlan(plans: readonly Plan[], sessions: readonly Session[]): { groups: PlanGroup[]; loose: Session[] } {
    const byId = new Map(sessions.map((s) => [s.id, s]));
    const claimed = new Set<string>();
    const groups: PlanGroup[] = [];
    for (const plan of plans) {
        const tasks = plan.tasks.map((task) => ({ task, session: task.session ? byId.get(task.session) : undefined }));
        if (plan.state !== "running" && !tasks.some((t) => t.session)) continue;
        for (const t of tasks) if (t.session) claimed.add(t.session.id);
        groups.push({ plan, tasks });
    }
    return { groups, loose: sessions.filter((s) => !claimed.has(s.id)) };
}

/** Who reviews a task: the reviewers it has, and the plan's tasks that review it. */
export function reviewers(t: PlanTask, plan: Pick<Plan, "tasks">): string[] {
    const names = new Set(t.reviewedBy ?? []);
    for (const o of plan.tasks) if (o.reviews === t.name) names.add(o.name);
    return [...names];
}

/** What a task row adds to its session's (or shows on its own). */
export interface TaskView {
    /** Short: "after api", "stacked on api", "reviews api", "reviewed ✓". */
    description: string;
    /** One relation a line, in full. */
    tooltip: string;
    /** The relations in words, for screen readers. */
    accessibility: string;
}

export function renderTask(t: PlanTask, plan: Pick<Plan, "tasks">): TaskView {
    const short: string[] = [];
    const lines: string[] = [];
    if (t.after?.length) {
        short.push(`after ${t.after.join(", ")}`);
        lines.push(`waits for ${t.after.join(", ")} to land (after)`);
    }
    if (t.stack) {
        short.push(`stacked on ${t.stack}`);
        lines.push(`stacked on ${t.stack}: starts on its branch and follows it`);
    }
    if (t.reviews) {
        short.push(`reviews ${t.reviews}`);
        lines.push(`reviews ${t.reviews}`);
    }
    const by = reviewers(t, plan);
    if (by.length) {
        const who = by.join(", ");
        if (t.reviewed) {
            short.push("reviewed ✓");
            lines.push(`reviewed by ${who}`);
        } else if (t.reviewedBy?.length) {
            short.push("in review");
            lines.push(`being reviewed by ${who}; not reviewed yet`);
        } else {
            short.push("unreviewed");
            lines.push(`to be reviewed by ${who}; not reviewed yet`);
        }
    }
    if (t.detail) lines.push(t.detail);
    return { description: short.join(" · "), tooltip: lines.join("\n"), accessibility: lines.join(", ") };
}

/** A task row without a session (waiting, or its session gone). */
export interface TaskRowView extends TaskView {
    label: string;
    icon: string;
    color: string;
    /** `task:<state>`, for package.json menus. */
    contextValue: string;
}

const taskIcons: Record<string, { icon: string; color: string }> = {
    waiting: { icon: "clock", color: "descriptionForeground" },
    landed: stateIcon(State.Merged),
    failed: stateIcon(State.Failed),
    cancelled: { icon: "circle-slash", color: "disabledForeground" },
};

export function renderTaskRow(t: PlanTask, plan: Pick<Plan, "tasks">): TaskRowView {
    const v = renderTask(t, plan);
    const { icon, color } = taskIcons[t.state] ?? (t.sessionState ? stateIcon(t.sessionState) : { icon: "circle-outline", color: "descriptionForeground" });
    // The row leads with the state when it is not plain waiting.
    const description = t.state === "waiting" ? v.description : [t.state, v.description].filter((s) => s).join(" · ");
    return {
        ...v,
        label: t.name,
        description,
        tooltip: [`${t.name}: ${t.state}`, v.tooltip].filter((s) => s).join("\n"),
        accessibility: [`task ${t.name}`, t.state, v.accessibility].filter((s) => s).join(", "),
        icon,
        color,
        contextValue: `task:${t.state}`,
    };
}

/** A plan group's row: "plan demo.toml", "running · 1 of 3 landed". */
export function renderPlan(plan: Plan): { label: string; description: string; tooltip: string; contextValue: string } {
    const landed = plan.tasks.filter((t) => t.state === "landed").length;
    const failed = plan.tasks.filter((t) => t.state === "failed").length;
    const name = plan.file ? (plan.file.split("/").pop() ?? plan.file) : plan.id;
    const parts = [plan.state, `${landed} of ${plan.tasks.length} landed`];
    if (failed) parts.push(`${failed} failed`);
    return {
        label: `plan ${name}`,
        description: parts.join(" · "),
        tooltip: `plan ${plan.id}${plan.file ? ` (${plan.file})` : ""}: ${plan.state}, target ${plan.target}\n${parts.slice(1).join(", ")}`,
        contextValue: `plan:${plan.state}`,
    };
}
