// The status-bar item: session count and how many wait; click shows the view.

import * as vscode from "vscode";
import { Ctx } from "./ctx";
import { statusText } from "./render";

export function createStatusBar(ctx: Ctx): vscode.Disposable {
    const item = vscode.window.createStatusBarItem("studiod.status", vscode.StatusBarAlignment.Left, 10);
    item.name = "studiod";
    item.command = "studiod.focus";
    const update = () => {
        if (ctx.state === "running") {
            const { text, tooltip } = statusText(ctx.sessions.all());
            item.text = text;
            item.tooltip = tooltip;
            item.backgroundColor = undefined;
        } else if (ctx.state === "error") {
            item.text = "$(hubot) $(error)";
            item.tooltip = ctx.lastError ?? "studiod is not running";
            item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
        } else {
            item.text = "$(hubot) $(loading~spin)";
            item.tooltip = `studiod: ${ctx.state}`;
            item.backgroundColor = undefined;
        }
        item.show();
    };
    update();
    return vscode.Disposable.from(item, ctx.onDidChange(update), ctx.onDidChangeState(update));
}
