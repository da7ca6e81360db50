// The "Agent Sessions" tree: a group per plan, its tasks as rows (a task's
// session row says what it waits for, its stack and its review), then one row
// per session outside any plan; a session's predicted conflicts are its
// children. Updated from Ctx.onDidChange, which the daemon's notifications
// drive; nothing polls.

import * as vscode from "vscode";
import { Ctx } from "./ctx";
import * as p from "./protocol";
import { groupByPlan, renderPlan, renderTask, renderTaskRow } from "./plans";
import { renderPreview } from "./preview";
import { renderConflict, renderSession, sortSessions } from "./render";

export type Node = PlanNode | TaskNode | SessionNode | ConflictNode;

export interface PlanNode {
    kind: "plan";
    plan: p.Plan;
}

/** A task of a plan without a session in the view: waiting, or ended. */
export interface TaskNode {
    kind: "task";
    task: p.PlanTask;
    plan: p.Plan;
}

export interface SessionNode {
    kind: "session";
    session: p.Session;
    /** The plan task the session runs, if any. */
    task?: p.PlanTask;
    plan?: p.Plan;
}

export interface ConflictNode {
    kind: "conflict";
    conflict: p.Conflict;
    session: p.Session;
}

export class SessionsTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<Node | undefined>();
    readonly onDidChangeTreeData = this.changed.event;
    private readonly sub: vscode.Disposable;

    constructor(private readonly ctx: Ctx) {
        this.sub = ctx.onDidChange(() => this.changed.fire(undefined));
    }

    /** The session with the conflict count from the live conflict set. */
    private withCounts(s: p.Session): p.Session {
        const n = this.ctx.conflicts.forSession(s.name, s.repo).length;
        return n === s.conflicts ? s : { ...s, conflicts: n };
    }

    getChildren(node?: Node): Node[] {
        if (!node) {
            const { groups, loose } = groupByPlan(this.ctx.plans.all(), this.ctx.sessions.all());
            return [
                ...groups.map((g): Node => ({ kind: "plan", plan: g.plan })),
                ...sortSessions(loose).map((s): Node => ({ kind: "session", session: this.withCounts(s) })),
            ];
        }
        if (node.kind === "plan") {
            const g = groupByPlan([node.plan], this.ctx.sessions.all()).groups[0];
            return (g?.tasks ?? []).map(({ task, session }): Node =>
                session
                    ? { kind: "session", session: this.withCounts(session), task, plan: node.plan }
                    : { kind: "task", task, plan: node.plan },
            );
        }
        if (node.kind === "session") {
            return this.ctx.conflicts
                .forSession(node.session.name, node.session.repo)
                .map((c) => ({ kind: "conflict", conflict: c, session: node.session }));
        }
        return [];
    }

    getTreeItem(node: Node): vscode.TreeItem {
        if (node.kind === "plan") {
            const v = renderPlan(node.plan);
            const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.Expanded);
            item.id = `plan/${node.plan.id}`;
            item.description = v.description;
            item.tooltip = v.tooltip;
            item.iconPath = new vscode.ThemeIcon("list-tree");
            item.contextValue = v.contextValue;
            return item;
        }
        if (node.kind === "task") {
            const v = renderTaskRow(node.task, node.plan);
            const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.None);
            item.id = `plan/${node.plan.id}/${node.task.name}`;
            item.description = v.description;
            item.tooltip = v.tooltip;
            item.accessibilityInformation = { label: v.accessibility };
            item.iconPath = new vscode.ThemeIcon(v.icon, new vscode.ThemeColor(v.color));
            item.contextValue = v.contextValue;
            return item;
        }
        if (node.kind === "session") {
            const v = renderSession(node.session);
            const hasChildren = node.session.conflicts > 0;
            const item = new vscode.TreeItem(
                v.label,
                hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
            );
            item.id = node.session.id;
            const tv = node.task && node.plan ? renderTask(node.task, node.plan) : undefined;
            const pv = renderPreview(this.ctx.previews.forSession(node.session), this.ctx.previews.get(node.session.repo));
            item.description = [v.description, tv?.description, pv?.badge].filter((d) => d).join(" · ");
            item.tooltip = [v.tooltip, tv?.tooltip, pv?.tooltip].filter((t) => t).join("\n");
            item.accessibilityInformation = { label: [v.accessibility, tv?.accessibility, pv?.badge].filter((t) => t).join(", ") };
            item.iconPath = new vscode.ThemeIcon(v.icon, new vscode.ThemeColor(v.color));
            item.contextValue = v.contextValue;
            return item;
        }
        const v = renderConflict(node.conflict, node.session.name);
        const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.None);
        item.id = `${node.session.id}/${node.conflict.id}`;
        item.description = v.description;
        item.iconPath = new vscode.ThemeIcon(
            node.conflict.severity === "overlap" ? "info" : "warning",
            new vscode.ThemeColor(node.conflict.severity === "overlap" ? "charts.blue" : "charts.orange"),
        );
        item.contextValue = "conflict";
        item.command = { command: "studiod.showConflicts", title: "Open Conflict", arguments: [node] };
        return item;
    }

    getParent(node: Node): Node | undefined {
        if (node.kind === "conflict") return { kind: "session", session: node.session };
        if (node.kind === "task" || (node.kind === "session" && node.plan)) return { kind: "plan", plan: node.plan! };
        return undefined;
    }

    dispose(): void {
        this.sub.dispose();
        this.changed.dispose();
    }
}
