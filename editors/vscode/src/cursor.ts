// Output offsets for Attach Terminal. Pure.

/**
 * Orders output chunks by offset: drops bytes already written, reports a gap.
 * Unit tested.
 */
export class OutputCursor {
    constructor(public next: number) {}

    /** Returns the bytes of chunk not yet written, and whether bytes were lost. */
    take(offset: number, data: Uint8Array): { bytes: Uint8Array; gap: boolean } {
        if (offset + data.length <= this.next) return { bytes: new Uint8Array(), gap: false };
        const gap = offset > this.next;
        const bytes = offset < this.next ? data.subarray(this.next - offset) : data;
        this.next = offset + data.length;
        return { bytes, gap };
    }
}
