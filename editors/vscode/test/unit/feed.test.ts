import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Feed } from "../../src/feed";

describe("feed", () => {
    test("notifications that overtake the snapshot are held; those it has are dropped", async () => {
        const f = new Feed();
        const got: string[] = [];
        await f.snapshot(
            async () => {
                // Forwarded apart from the reply: they arrive first.
                f.event(4, () => got.push("4"));
                f.event(5, () => got.push("5"));
                f.event(6, () => got.push("6"));
                f.event(undefined, () => got.push("output"));
                return { seq: 5 };
            },
            (r) => got.push(`snapshot ${r.seq}`),
        );
        f.event(7, () => got.push("7"));
        assert.deepEqual(got, ["snapshot 5", "6", "output", "7"]);
    });

    test("a failed snapshot applies what it held", async () => {
        const f = new Feed();
        const got: string[] = [];
        await assert.rejects(
            f.snapshot(
                async () => {
                    f.event(3, () => got.push("3"));
                    throw new Error("no daemon");
                },
                () => got.push("snapshot"),
            ),
        );
        assert.deepEqual(got, ["3"]);
    });
});
