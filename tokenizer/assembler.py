"""Turns ordered chunk results into shards, and rewrites the manifest after every completed shard.

This is the only code that writes into the output directory during a run. Counters, skipped lines
and the corpus position are committed together with a shard, so the manifest on disk always describes
exactly the complete shards plus the position to resume from.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tokenizer.corpus import CorpusFile
from tokenizer.errors import CorpusLineError, TokenizeError, VerificationError
from tokenizer.loader import LoadedTokenizer
from tokenizer.manifest import (
    MAX_SKIPPED_RECORDS,
    Counters,
    Manifest,
    Position,
    ShardEntry,
    SkippedLine,
    utc_timestamp,
    write_manifest,
)
from tokenizer.options import EncodeOptions
from tokenizer.shards import ShardWriter
from tokenizer.worker import ChunkResult


class ShardAssembler:
    """Consumes chunk results in corpus order; owns the open shard and every manifest rewrite."""

    def __init__(self, out: Path, manifest: Manifest, files: list[CorpusFile], tok: LoadedTokenizer,
                 opts: EncodeOptions, eos_id: int | None, t_loop: float, prior_elapsed: float) -> None:
        self.out = out
        self.m = manifest
        self.files = files
        self.bound = tok.effective_vocab_count
        self.unk_id = tok.unk_id
        self.opts = opts
        self.eos_id = eos_id
        self.t_loop = t_loop
        self.prior_elapsed = prior_elapsed
        self.writer: ShardWriter | None = None
        self.pend = Counters()
        self.pend_first_doc = manifest.totals.documents
        self.pend_skipped: list[tuple[int, int, str]] = []
        self.pend_blank: list[tuple[int, int]] = []
        self.cur_file = manifest.position.file_index
        self.line_base = manifest.position.line
        self.file_end: dict[int, int] = {}
        self.max_seen = manifest.verification.max_token_id_seen if manifest.verification else None

    # -- bookkeeping -------------------------------------------------------------------------------

    @property
    def documents_seen(self) -> int:
        return self.m.totals.documents + self.pend.documents

    @property
    def tokens_seen(self) -> int:
        return self.m.totals.tokens + (self.writer.tokens if self.writer else 0)

    def _advance_file(self, file_index: int) -> None:
        if file_index != self.cur_file:
            self.cur_file = file_index
            self.line_base = 0

    def _commit_pending_lines(self, upto: Position | None) -> None:
        def before(f: int, line: int) -> bool:
            return upto is None or (f, line) <= (upto.file_index, upto.line)

        keep: list[tuple[int, int, str]] = []
        for f, line, reason in self.pend_skipped:
            if before(f, line):
                self.m.totals.skipped_lines += 1
                if len(self.m.skipped) < MAX_SKIPPED_RECORDS:
                    self.m.skipped.append(SkippedLine(file=self.files[f].rel, line=line, reason=reason))
            else:
                keep.append((f, line, reason))
        self.pend_skipped = keep
        still = [(f, line) for f, line in self.pend_blank if not before(f, line)]
        self.m.totals.blank_lines += len(self.pend_blank) - len(still)
        self.pend_blank = still

    def _refresh(self, position: Position) -> None:
        m = self.m
        m.position = position
        assert m.corpus is not None
        for k, entry in enumerate(m.corpus.files):
            if k < position.file_index:
                end = self.file_end.get(k, entry.consumed[1] if entry.consumed[1] else entry.size)
                entry.consumed = (0, end)
            elif k == position.file_index:
                entry.consumed = (0, position.offset)
        m.verification.max_token_id_seen = self.max_seen  # type: ignore[union-attr]
        m.verification.unk_rate = m.totals.unk_tokens / m.totals.tokens if m.totals.tokens else 0.0  # type: ignore[union-attr]
        elapsed = self.prior_elapsed + (time.monotonic() - self.t_loop)
        m.run.elapsed_s = round(elapsed, 3)
        m.run.tokens_per_s = round(m.totals.tokens / elapsed, 1) if elapsed > 0 else 0.0
        m.run.updated_at = utc_timestamp()

    def _commit_shard(self, position: Position) -> None:
        assert self.writer is not None
        entry: ShardEntry = self.writer.commit()
        entry.documents = self.pend.documents
        entry.first_document = self.pend_first_doc
        entry.end = position
        self.writer = None
        t = self.m.totals
        t.documents += self.pend.documents
        t.tokens += entry.tokens
        t.eos_tokens += self.pend.eos_tokens
        t.unk_tokens += self.pend.unk_tokens
        t.text_chars += self.pend.text_chars
        self.pend = Counters()
        self.pend_first_doc = t.documents
        self._commit_pending_lines(position)
        self.m.shards.append(entry)
        self._refresh(position)
        write_manifest(self.out, self.m, durable=self.opts.durable)

    # -- per chunk ---------------------------------------------------------------------------------

    def _located(self, r: ChunkResult, doc: int) -> str:
        return f"{self.files[r.file_index].rel}:{self.line_base + int(r.doc_line[doc]) + 1}"

    def _check_bound(self, r: ChunkResult) -> None:
        if not r.tokens.size:
            return
        top = int(r.tokens.max())
        if top >= self.bound:
            first = int(np.argmax(r.tokens >= self.bound))
            doc = int(np.searchsorted(np.cumsum(r.doc_tokens), first, side="right"))
            raise VerificationError(
                f"the encoder emitted id {int(r.tokens[first])}, outside the vocabulary of {self.bound} ids",
                where=self._located(r, doc),
                fix="the tokenizer files are inconsistent (an id beyond the vocab); re-import the tokenizer",
            )
        self.max_seen = top if self.max_seen is None else max(self.max_seen, top)

    def _units(self, r: ChunkResult, ndocs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tokens with EOS inserted per policy, per-document unit lengths, and per-document EOS counts."""
        lengths = r.doc_tokens[:ndocs]
        ends = np.cumsum(lengths)
        tokens = r.tokens[: int(ends[-1]) if ndocs else 0]
        policy = self.opts.eos_policy
        eos = np.zeros(ndocs, dtype=np.int64)
        if policy == "after":
            eos[:] = 1
            tokens = np.insert(tokens, ends, self.eos_id)
        elif policy == "between":
            eos[:] = 1
            if self.documents_seen == 0 and ndocs:
                eos[0] = 0
            starts = (ends - lengths)[eos.astype(bool)]
            tokens = np.insert(tokens, starts, self.eos_id)
        if self.eos_id is not None and eos.any():  # the recorded maximum is of the shards, EOS included
            self.max_seen = self.eos_id if self.max_seen is None else max(self.max_seen, self.eos_id)
        return tokens.astype(np.uint32, copy=False), lengths + eos, eos

    def consume(self, r: ChunkResult) -> None:
        self._advance_file(r.file_index)
        ndocs = len(r.doc_tokens)
        fail_at: tuple[int, str] | None = None
        if r.errors and self.opts.on_error == "fail":
            fail_at = r.errors[0]
            ndocs = int(np.searchsorted(r.doc_line, fail_at[0]))
        else:
            self.pend_skipped += [(r.file_index, self.line_base + i + 1, msg) for i, msg in r.errors]
        self.pend_blank += [(r.file_index, self.line_base + i + 1) for i in r.blank
                            if fail_at is None or i < fail_at[0]]
        self._check_bound(r)
        if ndocs:
            self._place(r, ndocs)
        if fail_at is not None:
            raise CorpusLineError(
                self.files[r.file_index].rel, self.line_base + fail_at[0] + 1, fail_at[1],
                fix="fix or remove the line, or pass --on-error skip to count and skip bad lines",
            )
        self.line_base += r.n_lines
        self.file_end[r.file_index] = r.end

    def _place(self, r: ChunkResult, ndocs: int) -> None:
        tokens, ulen, eos = self._units(r, ndocs)
        unk = np.zeros(ndocs, dtype=np.int64)
        if self.unk_id is not None and tokens.size:
            c = np.concatenate([[0], np.cumsum(tokens == self.unk_id)])
            uend = np.cumsum(ulen)
            unk = c[uend] - c[uend - ulen]
        cum = np.cumsum(ulen)
        chars = r.doc_chars
        n = self.opts.shard_tokens
        i0 = 0
        while i0 < ndocs:
            base = int(cum[i0 - 1]) if i0 else 0
            fill = self.writer.tokens if self.writer else 0
            j = int(np.searchsorted(cum, base + (n - fill), side="left"))
            last = min(j, ndocs - 1)
            stop = int(cum[last])
            if stop > base:
                if self.writer is None:
                    self.writer = ShardWriter(self.out, len(self.m.shards), durable=self.opts.durable)
                self.writer.write(tokens[base:stop])
            self.pend.documents += last - i0 + 1
            self.pend.eos_tokens += int(eos[i0 : last + 1].sum())
            self.pend.unk_tokens += int(unk[i0 : last + 1].sum())
            self.pend.text_chars += int(chars[i0 : last + 1].sum())
            if j >= ndocs:
                break
            self._commit_shard(
                Position(file_index=r.file_index, offset=int(r.doc_end[j]),
                         line=self.line_base + int(r.doc_line[j]) + 1)
            )
            i0 = j + 1

    def finish(self) -> Manifest:
        end = Position(file_index=len(self.files), offset=0, line=0)
        if self.writer is not None and self.writer.tokens:
            self._commit_shard(end)
        elif self.writer is not None:
            self.writer.abort()
            self.writer = None
        t = self.m.totals
        t.documents += self.pend.documents
        t.text_chars += self.pend.text_chars
        self.pend = Counters()
        self._commit_pending_lines(None)
        self._refresh(end)
        if t.documents == 0:
            raise TokenizeError(
                f"the corpus contains no documents ({t.skipped_lines} bad and {t.blank_lines} blank lines)",
                where=str(self.opts.corpus),
                fix="check --corpus and --text-field; with --on-error skip every line was skipped",
            )
        v = self.m.verification
        if v is not None:
            v.passed = v.roundtrip_ok and v.unk_rate <= v.max_unk_rate
        self.m.complete = True
        write_manifest(self.out, self.m, durable=self.opts.durable)
        return self.m

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None
