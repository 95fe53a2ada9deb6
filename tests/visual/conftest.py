"""One real turn of the loop on the tiny model, recorded once for every picture test.

Run 1 trains SFT (v0001) with the loop trainer; run 2 mines pairs from v0001
with a scripted sampler and a terse judge and applies them (two pairs kept,
and one prompt for each way of skipping: below threshold, too similar, no
variety, over --max-pairs); run 3 trains the preference phase (v0002) with a trainer that
logs reward margins and accuracies the way TRL does; run 4 compares v0001
with v0002 on held-out prompts. Every model, adapter and metric is real;
only the sampler's answers and the judge's taste are scripted, so each test
knows what must appear. Texts carry HTML on purpose, to prove it is escaped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import types
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import attrs
import pytest

from dlm_core import hookimpl
from dlm_core.document.io import read_document
from dlm_core.evaluation.compare import CompareOptions, CompareReport, compare_versions
from dlm_core.mining.run import MineOptions, MineOutcome, mine_document
from dlm_core.plugins import JudgeSpec, PluginHost, SamplerSpec
from dlm_core.protocols import Sample, StepLog, TrainJob, TrainResult, is_truncated
from dlm_core.store.store import Store
from dlm_core.testing import LoopTrainer, loop_trainer_plugin, tiny_document_text
from dlm_core.training.phases import PhaseOutcome, TrainOptions, train_document
from dlm_core.workspace import Workspace

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

MORE_PROMPTS = """
::instruction::
### Q
Who reads them?
### A
Everyone who upgrades.

### Q
When are they written?
### A
Before the release is tagged.

### Q
How long is a note?
### A
One line.

### Q
Is <b>bold</b> & "quoted" text fine?
### A
Yes.
"""

HELD_OUT = """
::eval::
### Q
Write a one-line note for a removed flag.

### Q
How long is an intro?

### Q
Which <tag> & "quote" survive?
"""

# What the scripted sampler answers while mining v0001 (the judge prefers shorter answers).
MINING_CANDIDATES = {
    "How should release notes read?": [
        "Release notes should be long, thorough, and full of adjectives.",
        "Short.",
    ],
    "What goes first?": [
        "Breaking changes.",
        "Breaking changes, then features, then fixes, then thanks to everyone.",
    ],
    "Who reads them?": ["Everyone.", "Everyone.", " Everyone. "],  # one distinct answer: no variety
    "When are they written?": [
        "Short, factual notes for every release.",
        "Short, factual notes for every release!",
    ],
    "How long is a note?": [
        "One line.",
        "Two line.",
    ],  # equal length: margin 0, below the threshold
    'Is <b>bold</b> & "quoted" text fine?': [
        "ok",
        "<script>alert('x')</script> & a long answer that loses clearly",
    ],
}

# Held-out answers: v0002 is terse, v0001 verbose, except one prompt where v0001 wins and one tie.
HELD_OUT_ANSWERS = {
    "Write a one-line note for a removed flag.": (
        "The --legacy flag, which nobody used any more, has been removed; see https://example.com/changelog.",
        "Removed --legacy.",
    ),
    "How long is an intro?": (
        "Two lines.",
        "Two sentences, at most, unless the release is a big one.",
    ),
    'Which <tag> & "quote" survive?': ('<tag> & "quote"', "<tag> & 'quote'"),
}


class LoopSampler:
    """Scripted answers: mining candidates for instruction prompts, per-version answers for held-out ones."""

    def __init__(self, adapter: Path | None) -> None:
        self.adapter = adapter

    def sample(self, prompts, n, *, temperature, top_p, max_new_tokens, seed):  # type: ignore[no-untyped-def]
        out = []
        for prompt in prompts:
            if prompt in HELD_OUT_ANSWERS:
                side = 1 if self.adapter is not None and self.adapter.name == "v0002" else 0
                out.append([HELD_OUT_ANSWERS[prompt][side]] * n)
            else:
                out.append(
                    [
                        Sample(c, truncated=is_truncated(c), tokens=len(c.split()))
                        for c in list(MINING_CANDIDATES.get(prompt, ["same"] * n))[:n]
                    ]
                )
        return out


class TerseJudge:
    """Scores -len(text): prefers terse answers."""

    name = "terse"
    default_threshold = 1.0

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        return [-float(len(c)) for c in candidates]


class RewardLoggingTrainer(LoopTrainer):
    """The loop trainer, logging TRL-style reward metrics in its preference steps.

    The margin and accuracy follow the real loss of each step (how far it fell
    since the first step), so the curves move with the actual training.
    """

    def train(self, job: TrainJob) -> TrainResult:
        if job.phase == "preference":
            report = job.on_step
            first: list[float] = []

            def on_step(step: StepLog) -> None:
                loss = step.loss or 0.0
                first.append(first[0] if first else loss)
                margin = first[0] - loss
                report(
                    attrs.evolve(
                        step,
                        extra={
                            "rewards/margins": margin,
                            "rewards/accuracies": 1.0 if margin > 0 else 0.5,
                            "rewards/chosen": margin / 2,
                            "rewards/rejected": -margin / 2,
                        },
                    )
                )

            job.on_step = on_step
        return super().train(job)


def loop_host(trainer: LoopTrainer | None = None) -> PluginHost:
    """A fresh host with the built-ins, the scripted sampler and judge, and a real loop trainer."""

    @hookimpl
    def dlm_samplers():  # type: ignore[no-untyped-def]
        return [SamplerSpec(name="loop", factory=lambda ctx: LoopSampler(ctx.adapter_path))]

    @hookimpl
    def dlm_judges():  # type: ignore[no-untyped-def]
        return [JudgeSpec(name="terse", factory=lambda ctx, arg: TerseJudge())]

    host = PluginHost.with_builtins()
    host.register(
        types.SimpleNamespace(dlm_samplers=dlm_samplers, dlm_judges=dlm_judges), "test-visual"
    )
    host.register(loop_trainer_plugin(trainer or RewardLoggingTrainer()), "test-loop-trainer")
    return host


@pytest.fixture
def visual_host() -> PluginHost:
    """A fresh host with the scripted sampler and judge and the reward-logging loop trainer."""
    return loop_host()


@attrs.frozen
class Loop:
    """The recorded turn of the loop, and where everything lies."""

    document: Path
    home: Path
    host: PluginHost
    store: Store
    sft: PhaseOutcome
    mine: MineOutcome
    preference: PhaseOutcome
    compare: CompareReport

    @property
    def run_ids(self) -> list[int]:
        return [
            self.sft.metrics_run_id,
            self.mine.run_id,
            self.preference.metrics_run_id,
            self.compare.run_id,
        ]


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="session")
def loop(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Loop:
    root = tmp_path_factory.mktemp("loop")
    home = root / "home"
    home.mkdir()
    document = root / "notes.dlm"
    document.write_text(tiny_document_text(tiny_base) + MORE_PROMPTS + HELD_OUT, encoding="utf-8")
    host = loop_host()
    (sft,) = train_document(
        Workspace(home, host, say=quiet),
        document,
        TrainOptions(phase="sft", max_steps=6, progress=False),
    )
    mined = mine_document(
        Workspace(home, host, say=quiet),
        document,
        MineOptions(
            sampler="loop", judge="terse", samples=3, max_pairs=2, apply=True, progress=False
        ),
    )
    (preference,) = train_document(
        Workspace(home, host, say=quiet),
        document,
        TrainOptions(phase="preference", max_steps=5, progress=False),
    )
    compared = compare_versions(
        Workspace(home, host, say=quiet),
        document,
        CompareOptions(a="1", b="2", sampler="loop", judge="terse"),
    )
    dlm_id = read_document(document).dlm_id
    assert dlm_id is not None
    return Loop(document, home, host, Store(home, dlm_id), sft, mined, preference, compared)


@pytest.fixture
def artifacts() -> Iterator[Path]:
    """``test-artifacts/`` at the repository root (gitignored): pictures a person can look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    yield ARTIFACTS


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser, or a skip (locally) / a failure (under CI) when it is not installed."""
    found = chromium_path()
    if found is None:
        message = "chromium is not installed; run scripts/ci-browser.sh to install it"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the browser checks, not skip them)")
        pytest.skip(message)
    return found


# -- reading pages back ---------------------------------------------------------

#: Attributes through which a page could make the browser fetch something.
FETCHING_ATTRIBUTES = {
    "src",
    "href",
    "srcset",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "xlink:href",
    "ping",
}
FETCHING_TAGS = {
    "script",
    "link",
    "iframe",
    "frame",
    "object",
    "embed",
    "base",
    "audio",
    "video",
    "source",
    "track",
}


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attributes}))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attributes}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


@attrs.frozen
class ParsedPage:
    """An HTML page read back: its elements with their attributes, its text, its style sheets."""

    tags: list[tuple[str, dict[str, str]]]
    text: str
    style: str

    def elements(self, name: str) -> list[dict[str, str]]:
        return [attributes for tag, attributes in self.tags if tag == name]

    def references(self) -> list[str]:
        """Every URL the page itself could load or link to (attribute values and CSS url()/@import)."""
        found = [
            v
            for _tag, attributes in self.tags
            for k, v in attributes.items()
            if k in FETCHING_ATTRIBUTES
        ]
        found += re.findall(r"url\(\s*['\"]?([^'\")]*)", self.style) + re.findall(
            r"@import\s+['\"]?([^'\";\s]+)", self.style
        )
        for _tag, attributes in self.tags:
            found += re.findall(r"url\(\s*['\"]?([^'\")]*)", attributes.get("style", ""))
        return found

    def network_references(self) -> list[str]:
        """References that would reach the network: a scheme other than a fragment, a relative path or data:."""
        bad = [
            r
            for r in self.references()
            if re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*:|//)", r)
            and not r.strip().startswith("data:")
        ]
        bad += [f"<{tag}>" for tag, _ in self.tags if tag in FETCHING_TAGS]
        markup = " ".join(" ".join(a.values()) for _t, a in self.tags) + self.style
        bad += re.findall(r"https?://\S+", markup)  # no URL at all outside plain text
        return bad


def parse_page(source: str) -> ParsedPage:
    parser = _PageParser()
    parser.feed(source)
    parser.close()
    return ParsedPage(parser.tags, " ".join(" ".join(parser.text).split()), "".join(parser.styles))


@pytest.fixture
def read_page() -> Callable[[str], ParsedPage]:
    """Parses an HTML page's source into a :class:`ParsedPage`."""
    return parse_page


# -- a real headless browser ------------------------------------------------------

WINDOW = (1200, 900)


@attrs.frozen
class BrowserVisit:
    """What the browser saw: its screenshot, the DOM it built, and the network requests the page made."""

    screenshot: Path
    dom: str
    requests: list[str]
    window: tuple[int, int] = WINDOW


def page_requests(netlog: Path) -> list[str]:
    """URLs the page (a file:// document) asked for over the network, from chromium's net log.

    The browser's own background traffic (update checks and the like) has no
    file:// page behind it and is left out; so are the page's own files.
    """
    log = json.loads(netlog.read_text(encoding="utf-8"))
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB":
            continue
        from_page = "file://" in str(params.get("network_isolation_key", "")) or params.get(
            "initiator"
        ) in ("null", "file://")
        url = str(params.get("url", ""))
        if from_page and not url.startswith(("file:", "data:")):
            urls.append(url)
    return urls


def visit_page(chromium: str, page: Path, workdir: Path) -> BrowserVisit:
    """Open ``page`` in headless chromium: screenshot, DOM, and its network requests (none may leave the machine)."""
    workdir.mkdir(parents=True, exist_ok=True)
    screenshot, netlog = workdir / f"{page.stem}.png", workdir / f"{page.stem}.netlog.json"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        # Nothing resolves, so even a page that tried could not reach the network; the net log still records the try.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={workdir / 'profile'}",
        f"--log-net-log={netlog}",
        f"--screenshot={screenshot}",
        "--dump-dom",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    assert screenshot.exists(), f"chromium wrote no screenshot: {result.stderr[-2000:]}"
    return BrowserVisit(screenshot, result.stdout, page_requests(netlog))


@pytest.fixture
def browse(chromium: str, tmp_path: Path) -> Callable[[Path], BrowserVisit]:
    """Opens a page in the real headless browser (skipped locally, failed under CI, without chromium)."""
    return lambda page: visit_page(chromium, page, tmp_path / "browser" / page.stem)
