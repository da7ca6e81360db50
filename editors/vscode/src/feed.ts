// A subscription's snapshot joined with the notifications after it. The
// daemon answers studio/subscribe with a snapshot and a sequence number;
// `studiod lsp` forwards the notifications apart from the reply, so some
// may arrive before it. While a snapshot is asked for, notifications are
// held; once it is applied, the held ones it already has (seq at or below
// its seq) are dropped and the rest applied in order. It imports nothing,
// so the unit tests load it outside VS Code.

export class Feed {
    private waiting = 0;
    private held: { seq?: number; apply: () => void }[] = [];

    /** Applies a notification now, or once the pending snapshot is in. */
    event(seq: number | undefined, apply: () => void): void {
        if (this.waiting > 0) this.held.push({ seq, apply });
        else apply();
    }

    /** Asks for a snapshot with ask, applies it with apply, then what was held. */
    async snapshot<R extends { seq: number }>(ask: () => Promise<R>, apply: (r: R) => void): Promise<R> {
        this.waiting++;
        let seq = 0;
        try {
            const r = await ask();
            apply(r);
            seq = r.seq;
            return r;
        } finally {
            this.waiting--;
            if (this.waiting === 0) {
                const held = this.held;
                this.held = [];
                for (const h of held) if (h.seq === undefined || h.seq > seq) h.apply();
            }
        }
    }
}
