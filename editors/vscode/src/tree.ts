// The "Agent Sessions" tree: one row per session, its predicted conflicts as
// children. Updated from Ctx.onDidChange, which the daemon's notifications
// drive; nothing polls.

import * as vscode from "vscode";
import { Ctx } from "./ctx";
import * as p from "./protocol";
import { renderPreview } from "./preview";
import { renderConflict, renderSession, sortSessions } from "./render";

export type Node = SessionNode | ConflictNode;

export interface SessionNode {
    kind: "session";
    session: p.Session;
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
            return sortSessions(this.ctx.sessions.all()).map((s) => ({ kind: "session", session: this.withCounts(s) }));
        }
        if (node.kind === "session") {
            return this.ctx.conflicts
                .forSession(node.session.name, node.session.repo)
                .map((c) => ({ kind: "conflict", conflict: c, session: node.session }));
        }
        return [];
    }

    getTreeItem(node: Node): vscode.TreeItem {
        if (node.kind === "session") {
            const v = renderSession(node.session);
            const hasChildren = node.session.conflicts > 0;
            const item = new vscode.TreeItem(
                v.label,
                hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
            );
            item.id = node.session.id;
            const pv = renderPreview(this.ctx.previews.forSession(node.session), this.ctx.previews.get(node.session.repo));
            item.description = pv ? (v.description ? `${v.description} · ${pv.badge}` : pv.badge) : v.description;
            item.tooltip = pv?.tooltip ? `${v.tooltip}\n${pv.tooltip}` : v.tooltip;
            item.accessibilityInformation = { label: pv ? `${v.accessibility}, ${pv.badge}` : v.accessibility };
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
        return node.kind === "conflict" ? { kind: "session", session: node.session } : undefined;
    }

    dispose(): void {
        this.sub.dispose();
        this.changed.dispose();
    }
}
