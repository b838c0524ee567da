# The replay mixture of docs/training-data.md, written again in plain Python from the spec: the test
# (reference.test.ts) checks that the TypeScript trainer draws exactly the same sequences.
import json, sys
M64 = (1 << 64) - 1
class Pcg32:
    def __init__(self, initstate, initseq=54):
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
    def bounded(self, bound):
        threshold = (2**32 - bound) % bound
        while True:
            r = self.next()
            if r >= threshold:
                return r % bound
    def float(self):
        return self.next() / 2**32
    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.bounded(i + 1)
            items[i], items[j] = items[j], items[i]

class Stream:
    def __init__(self, docs, seed, seq, eos):
        self.docs, self.eos, self.g = docs, eos, Pcg32(seed, seq)
        self.buf = []
    def _epoch(self):
        order = list(range(len(self.docs)))
        self.g.shuffle(order)
        for d in order:
            self.buf.extend(self.docs[d] + [self.eos])
    def take(self, n):
        while len(self.buf) < n + 1:
            self._epoch()
        out = self.buf[: n + 1]
        del self.buf[:n]
        return out

def mixture(target, english, L, share, seed, eos, count):
    draws = Pcg32(seed, 1)
    streams = {'target': Stream(target, seed, 2, eos), 'english': Stream(english, seed, 3, eos) if share > 0 else None}
    out = []
    for _ in range(count):
        lang = 'english' if draws.float() < share else 'target'
        out.append([lang, streams[lang].take(L)])
    return out

if __name__ == '__main__':
    spec = json.load(sys.stdin)
    print(json.dumps(mixture(spec['target'], spec['english'], spec['L'], spec['share'], spec['seed'], spec['eos'], spec['count'])))
