// Names the extension contributes in package.json. Pure: the unit tests check
// package.json against this file, and the CommandId type makes the factory
// table in commands.ts exhaustive.

export const commandIds = [
    "studiod.spawn",
    "studiod.review",
    "studiod.addComment",
    "studiod.sendReview",
    "studiod.merge",
    "studiod.undo",
    "studiod.stop",
    "studiod.setBudget",
    "studiod.remove",
    "studiod.attach",
    "studiod.openWorktree",
    "studiod.showConflicts",
    "studiod.preview",
    "studiod.land",
    "studiod.sync",
    "studiod.refresh",
    "studiod.restart",
    "studiod.focus",
] as const;
export type CommandId = (typeof commandIds)[number];

export const viewContainerId = "studiod";
export const sessionsViewId = "studiod.sessions";
export const commentControllerId = "studiod.review";

/** The URI scheme of file versions served by studio/file. */
export const scheme = "studio";

/** Context key set while the language client runs. */
export const runningContext = "studiod.running";

export const configSection = "studiod";
export const configKeys = ["path", "defaultAgent", "notifications", "trace.server"] as const;
