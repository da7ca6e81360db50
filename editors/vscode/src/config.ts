// Typed getters over the studiod.* settings.

import * as vscode from "vscode";
import { configSection } from "./ids";

export type NotificationLevel = "all" | "waiting" | "off";

export class Config {
    private get cfg(): vscode.WorkspaceConfiguration {
        return vscode.workspace.getConfiguration(configSection);
    }

    /** The configured binary, or undefined to search PATH. */
    get path(): string | undefined {
        const p = this.cfg.get<string>("path")?.trim();
        return p ? p : undefined;
    }

    get defaultAgent(): string {
        return this.cfg.get<string>("defaultAgent")?.trim() || "claude";
    }

    get notifications(): NotificationLevel {
        const v = this.cfg.get<string>("notifications");
        return v === "all" || v === "off" ? v : "waiting";
    }

    /** Whether a settings change needs the server restarted. */
    affectsServer(e: vscode.ConfigurationChangeEvent): boolean {
        return e.affectsConfiguration(`${configSection}.path`);
    }
}
