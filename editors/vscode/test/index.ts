// Entry point of the tests that run inside a real VS Code extension host
// (extensionTestsPath). VS Code calls run(); a rejection fails the run, and
// the page reports the exit code through codeAutomationExit (run-host.mjs).

import { basic } from "./host/basic";
import { e2e } from "./host/e2e";
import { HostTest, screenshotPoint } from "./host/harness";
import { settings } from "./host/settings";

export async function run(): Promise<void> {
    const tests: HostTest[] = [...settings, ...basic, ...e2e];
    if (process.env["STUDIOD_TEST_FORCE_FAIL"]) {
        tests.push({
            name: "forced failure (STUDIOD_TEST_FORCE_FAIL)",
            fn: () => {
                throw new Error("failing on purpose");
            },
        });
    }
    let failed = 0;
    let skipped = 0;
    const started = Date.now();
    for (const t of tests) {
        const t0 = Date.now();
        if (t.skip) {
            skipped++;
            console.log(`skip - ${t.name}: ${t.skip}`);
            continue;
        }
        try {
            await withTimeout(Promise.resolve(t.fn()), t.timeoutMs ?? 30_000, t.name);
            console.log(`ok - ${t.name} (${Date.now() - t0} ms)`);
        } catch (e) {
            failed++;
            console.log(`not ok - ${t.name} (${Date.now() - t0} ms)\n${indent(e instanceof Error ? (e.stack ?? e.message) : String(e))}`);
        }
    }
    await screenshotPoint().catch((e) => console.log(`screenshot point: ${String(e)}`));
    console.log(`# ${tests.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped in ${Date.now() - started} ms`);
    if (failed) throw new Error(`${failed} extension host test(s) failed`);
}

function indent(s: string): string {
    return s
        .split("\n")
        .map((l) => "    " + l)
        .join("\n");
}

function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name}: timed out after ${ms} ms`)), ms);
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
