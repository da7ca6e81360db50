// Helpers for the extension host tests.

import * as vscode from "vscode";
import type { Api } from "../../src/main";

export interface HostTest {
    name: string;
    fn: () => unknown;
    timeoutMs?: number;
    /** Why the test is skipped, if it is. */
    skip?: string;
}

export const extensionId = "studiod.studiod";

export async function api(): Promise<Api> {
    const ext = vscode.extensions.getExtension<Api>(extensionId);
    if (!ext) throw new Error(`extension ${extensionId} is not installed`);
    return ext.activate();
}

/** Polls cond until it returns a truthy value; fails with what() on timeout. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: () => string, timeoutMs = 20_000): Promise<NonNullable<T>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await cond();
        if (v) return v as NonNullable<T>;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
        await sleep(100);
    }
}

export function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** Sets a studiod.* setting for the user and waits until it reads back. */
export async function setSetting(key: string, value: unknown): Promise<void> {
    await vscode.workspace.getConfiguration("studiod").update(key, value, vscode.ConfigurationTarget.Global);
    await waitFor(
        () => JSON.stringify(vscode.workspace.getConfiguration("studiod").get(key)) === JSON.stringify(value),
        () => `studiod.${key} = ${JSON.stringify(value)}`,
    );
}

/**
 * Records the messages passed to vscode.window.show*Message while fn runs.
 * The extension and its tests share one vscode API object, so this sees the
 * extension's calls.
 */
export async function captureMessages<T>(fn: () => Promise<T>): Promise<{ result: T; messages: string[] }> {
    const w = vscode.window as unknown as Record<string, (...a: unknown[]) => unknown>;
    const names = ["showErrorMessage", "showWarningMessage", "showInformationMessage"];
    const saved = names.map((n) => w[n]!);
    const messages: string[] = [];
    names.forEach((n, i) => {
        w[n] = (...a: unknown[]) => {
            messages.push(String(a[0]));
            return saved[i]!.apply(vscode.window, a);
        };
    });
    try {
        return { result: await fn(), messages };
    } finally {
        names.forEach((n, i) => (w[n] = saved[i]!));
    }
}

/** The marker run-host.mjs takes a screenshot at (when SCREENSHOT is set). */
export const screenshotMarker = "##studiod-screenshot##";

/** Shows the Agent Sessions view and has the harness take a screenshot. */
export async function screenshotPoint(): Promise<void> {
    await vscode.commands.executeCommand("workbench.action.closeAuxiliaryBar").then(undefined, () => undefined);
    await vscode.commands.executeCommand("studiod.focus");
    await sleep(500);
    console.log(screenshotMarker);
    // The page takes it asynchronously; keep the workbench as it is meanwhile.
    await sleep(2000);
}
