"""The training batches of a Vernacular run, exactly as Vernacular's own trainer draws them.

NumPy and the standard library only. The format and the algorithms are specified to the bit in
Vernacular's docs/training-data.md; in short:

- Token files (`VRNTOKS\\0`, version 1): a 128-byte header, the tokens of every document one after
  the other (uint16 or uint32), then an index of D + 1 uint64 token offsets. They are memory-mapped;
  documents are read on demand.
- PCG32 generators: (seed, 1) draws each sequence's language, (seed, 2) shuffles the target-language
  documents, (seed, 3) the English ones.
- A stream is its documents in a shuffled order (Fisher-Yates, a new shuffle every epoch from the
  same generator), each followed by EOS. A sequence of length L takes the stream's next L tokens
  and peeks one more: inputs are tokens [0, L), targets [1, L].
- Each sequence is English when the language draw u = next / 2^32 is below the English share.
- Document masking: `segments` numbers the documents within a sequence, `positions` restart at 0
  where each begins, and a position whose input is EOS has loss weight 0. Without it: one segment,
  positions 0 ... L-1, weights 1.
- An optimizer step is `gradientAccumulation` micro-batches of `batchSize` sequences, drawn in order.

Run as a script to print the first steps' micro-batches:

    python3 vernacular_data.py BUNDLE --steps 3 [--json]
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

MAGIC = b"VRNTOKS\0"
VERSION = 1
HEADER_BYTES = 128
M64 = (1 << 64) - 1
LANGUAGES = ("target", "english")


class TokenFileError(ValueError):
    pass


class TokenFile:
    """A token file, memory-mapped: `document(d)` is a view of document d's token ids."""

    def __init__(self, path):
        self.path = path
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)

        def bad(what):
            return TokenFileError(f"{path} is not a Vernacular token file ({what}). Write the hand-off bundle again.")

        if len(head) < HEADER_BYTES or head[:8] != MAGIC:
            raise bad("wrong magic")
        version, width, self.vocab_size = struct.unpack_from("<III", head, 8)
        if version != VERSION:
            raise bad(f"version {version}; this script reads version {VERSION}")
        if width not in (2, 4):
            raise bad(f"{width} bytes per token")
        self.documents, self.tokens, index_offset = struct.unpack_from("<QQQ", head, 24)
        if index_offset != HEADER_BYTES + self.tokens * width or size != index_offset + (self.documents + 1) * 8:
            raise bad("truncated or damaged: its size does not match its header")
        self.fingerprint = head[48:80].hex()
        dtype = "<u2" if width == 2 else "<u4"
        self.ids = np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(self.tokens,)) if self.tokens else np.zeros(0, dtype)
        self.index = np.memmap(path, dtype="<u8", mode="r", offset=index_offset, shape=(self.documents + 1,))

    def document(self, d):
        return self.ids[int(self.index[d]):int(self.index[d + 1])]


class Pcg32:
    """PCG32 (pcg-c-basic's pcg32_random_r, XSH-RR), with its bounded draw, floats and shuffle."""

    def __init__(self, initstate, initseq):
        self.inc = ((initseq << 1) | 1) & M64
        self.state = 0
        self.next()
        self.state = (self.state + (initstate & M64)) & M64
        self.next()

    def next(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & M64
        x = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        r = old >> 59
        return ((x >> r) | (x << ((-r) & 31))) & 0xFFFFFFFF

    def bounded(self, n):
        threshold = (2**32 - n) % n
        while True:
            r = self.next()
            if r >= threshold:
                return r % n

    def uniform(self):
        return self.next() / 2**32

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.bounded(i + 1)
            items[i], items[j] = items[j], items[i]


class DocumentStream:
    """One language's documents in shuffled order, each followed by EOS, read only as far as needed."""

    def __init__(self, file, eos, seed, seq):
        if file.documents == 0:
            raise TokenFileError(f"{file.path} has no documents.")
        self.file, self.eos = file, eos
        self.shuffler = Pcg32(seed, seq)
        self.order, self.next_doc = self._shuffled(), 0
        self.buffer = []  # documents read ahead (EOS appended); the first is partly consumed
        self.offset = 0  # tokens of buffer[0] already consumed
        self.consumed = 0

    def _shuffled(self):
        order = list(range(self.file.documents))
        self.shuffler.shuffle(order)
        return order

    def _fill(self, need):
        available = sum(len(d) for d in self.buffer) - self.offset
        while available < need:
            if self.next_doc == len(self.order):
                self.order, self.next_doc = self._shuffled(), 0
            ids = self.file.document(self.order[self.next_doc])
            self.next_doc += 1
            doc = np.empty(len(ids) + 1, np.int64)
            doc[:-1] = ids
            doc[-1] = self.eos
            self.buffer.append(doc)
            available += len(doc)

    def take(self, n):
        """The next n tokens (consumed) and one more (peeked), with the n inputs' segments and positions."""
        self._fill(n + 1)
        pieces, got, offset = [], 0, self.offset
        for doc in self.buffer:
            part = doc[offset:offset + n + 1 - got]
            pieces.append(part)
            got += len(part)
            offset = 0
            if got == n + 1:
                break
        tokens = np.concatenate(pieces)
        lengths = [len(p) for p in pieces]
        segments = np.repeat(np.arange(len(pieces)), lengths)[:n]
        starts = np.repeat(np.cumsum([0] + lengths[:-1]), lengths)[:n]
        positions = np.arange(n) - starts
        # Consume n tokens: drop the documents they finish.
        left = n
        while left >= len(self.buffer[0]) - self.offset:
            left -= len(self.buffer.pop(0)) - self.offset
            self.offset = 0
        self.offset += left
        self.consumed += n
        return tokens, segments, positions


class ReplayMixture:
    """Packed sequences of the target language mixed with English replay by tokens."""

    def __init__(self, files, sequence_length, english_share, seed, eos, document_masking):
        if not 0 <= english_share <= 1:
            raise ValueError(f"The English share must be from 0 to 1, not {english_share}.")
        if english_share > 0 and (files.get("english") is None or files["english"].tokens == 0):
            raise ValueError(f"The English share is {english_share}, but there is no English training text.")
        self.L, self.share, self.eos, self.masking = sequence_length, english_share, eos, document_masking
        self.draws = Pcg32(seed, 1)
        self.streams = {"target": DocumentStream(files["target"], eos, seed, 2),
                        "english": DocumentStream(files["english"], eos, seed, 3) if english_share > 0 else None}

    def next(self):
        language = "english" if self.draws.uniform() < self.share else "target"
        tokens, segments, positions = self.streams[language].take(self.L)
        if not self.masking:
            segments, positions = np.zeros(self.L, np.int64), np.arange(self.L)
        return language, tokens, segments, positions

    def micro_batch(self, batch_size):
        """`batch_size` sequences as the trainer's micro-batch: int64 [B, L] arrays, float32 weights, languages."""
        rows = [self.next() for _ in range(batch_size)]
        tokens = np.stack([r[1] for r in rows]).astype(np.int64)
        inputs = tokens[:, :-1]
        weights = (inputs != self.eos) if self.masking else np.ones_like(inputs, bool)
        return {"inputs": np.ascontiguousarray(inputs), "targets": np.ascontiguousarray(tokens[:, 1:]),
                "segments": np.stack([r[2] for r in rows]).astype(np.int64),
                "positions": np.stack([r[3] for r in rows]).astype(np.int64),
                "weights": weights.astype(np.float32), "languages": [r[0] for r in rows]}


def read_plan(bundle):
    with open(os.path.join(bundle, "vernacular-run.json")) as f:
        plan = json.load(f)
    if plan.get("format") != "vernacular-handoff" or plan.get("version") != 1:
        raise ValueError(f"{bundle}/vernacular-run.json is not a version 1 Vernacular hand-off plan.")
    return plan


def open_mixture(bundle, plan):
    data, s = plan["data"], plan["settings"]
    files = {lang: TokenFile(os.path.join(bundle, data[lang]["file"])) if data.get(lang) else None for lang in LANGUAGES}
    return ReplayMixture(files, s["sequenceLength"], s["englishShare"], s["seed"], plan["eos"], s["documentMasking"])


def step_batches(bundle, plan=None):
    """Yields each optimizer step's list of micro-batches, from the first step on, forever."""
    plan = plan or read_plan(bundle)
    mixture = open_mixture(bundle, plan)
    s = plan["settings"]
    while True:
        yield [mixture.micro_batch(s["batchSize"]) for _ in range(s["gradientAccumulation"])]


def main():
    ap = argparse.ArgumentParser(description="Print the first steps' micro-batches of a Vernacular hand-off bundle.")
    ap.add_argument("bundle")
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON array: steps, each a list of micro-batches")
    a = ap.parse_args()
    batches = step_batches(a.bundle)
    steps = [next(batches) for _ in range(a.steps)]
    if a.json:
        json.dump([[{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in mb.items()} for mb in step] for step in steps], sys.stdout)
        print()
        return
    for i, step in enumerate(steps):
        for a_, mb in enumerate(step):
            for b, lang in enumerate(mb["languages"]):
                print(f"step {i + 1} micro-batch {a_} row {b} [{lang}]: {' '.join(map(str, mb['inputs'][b][:16]))} ...")


if __name__ == "__main__":
    main()
