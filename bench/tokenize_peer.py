"""The peer of bench/tokenize: python3-sentencepiece encoding the same corpus.

argv: MODEL CORPUS.jsonl. Prints "ready"; then for each line on stdin:
  "loop"  -> encodes every text with sp.encode(text) in a Python loop; prints "<seconds> <tokens>"
  "batch" -> sp.encode(texts, num_threads=1), one call; prints "<seconds> <tokens>"
  "quit"
"""
import json
import sys
import time

import sentencepiece


def main():
    sp = sentencepiece.SentencePieceProcessor(model_file=sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "loop":
            t0 = time.perf_counter()
            n = sum(len(sp.encode(t)) for t in texts)
            print(f"{time.perf_counter() - t0:.6f} {n}", flush=True)
        elif cmd == "batch":
            t0 = time.perf_counter()
            n = sum(len(ids) for ids in sp.encode(texts, num_threads=1))
            print(f"{time.perf_counter() - t0:.6f} {n}", flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    main()
