"""Member keys end to end, on SQLite and on a real PostgreSQL: made, rotated and revoked through the CLI and
the API with an audit entry each, honoured at once by the running engine; a member reads only its own usage
and no admin endpoint; keys are nowhere in plaintext (database, logs, events)."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import sqlite3

import pytest

from tests.engine_harness import EngineProcess, free_port
from tests.fakes import FakeOpenAI, FakeServerThread
from tests.fakes.script import Usage
from tests.team.members import api_create, as_member, chat, cli_create, keys_cli
from tests.team.stores import pg_fetch

PRICES = "prices: {gpt-4o-mini: {input_per_mtok: 1000, output_per_mtok: 1000}}\n"  # $0.20 per request below


@pytest.fixture(scope="module")
def fake():
    with FakeServerThread(FakeOpenAI()) as fo:
        yield fo


@pytest.fixture(params=["sqlite", "postgres"])
def eng(request, fake):
    fake.reset()
    fake.script(usage=Usage(input_tokens=100, output_tokens=100))
    port = free_port()
    team = ""
    if request.param == "postgres":
        team = f'team: {{postgres: "{request.getfixturevalue("postgres_url")}"}}\n'
    config = f'port: {port}\nproviders:\n  openai: {{base_url: "{fake.base_url}", api_key: env:OK}}\n{PRICES}{team}'
    with EngineProcess(config, port) as e:
        e.backend = request.param
        e.postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
        yield e


def _stored_text(eng: EngineProcess) -> str:
    """Everything the database holds, as text: the SQLite files' bytes, or every PostgreSQL table's rows."""
    if eng.backend == "sqlite":
        return "".join(p.read_bytes().decode("latin-1") for p in eng.home.rglob("*.db*") if p.is_file())
    tables = asyncio.run(pg_fetch(eng.postgres_url, "SELECT table_name FROM information_schema.tables "
                                                    "WHERE table_schema = 'public'"))  # fmt: skip
    return "".join(str([tuple(r) for r in asyncio.run(pg_fetch(eng.postgres_url, f'SELECT * FROM "{t[0]}"'))])
                   for t in tables)  # fmt: skip


def test_key_lifecycle_through_the_cli_and_the_api(eng):
    user = f"cli:{getpass.getuser()}"
    sub = eng.subscribe()
    alice = cli_create(eng, "alice", "--team", "red", "--rpm", "100", "--models", "gpt-4o-mini,Smart")
    assert alice["key"].startswith("ppk_") and len(alice["key"]) > 40
    assert chat(eng, alice["key"]).status_code == 200, "a key made by the CLI works at once"
    bob = api_create(eng, name="bob", team="blue", monthly_budget_usd=10)
    assert chat(eng, bob["key"]).status_code == 200, "a key made through the API works at once"

    listed = {k["name"]: k for k in eng.api("GET", "/v0/keys").json()["keys"]}
    assert set(listed) == {"alice", "bob"}
    assert listed["alice"]["prefix"] == alice["key"][:8] and "key" not in listed["alice"]
    assert "key_hash" not in listed["alice"] and listed["alice"]["models"] == ["gpt-4o-mini", "Smart"]
    assert (listed["bob"]["team"], listed["bob"]["monthly_budget_usd"]) == ("blue", 10.0)

    rotated = eng.api("POST", "/v0/keys/alice/rotate").json()
    assert rotated["id"] == alice["id"] and rotated["key"] != alice["key"]
    assert chat(eng, alice["key"]).status_code == 401, "the old key stops working at once"
    assert chat(eng, rotated["key"]).status_code == 200
    cli_rotated = json.loads(keys_cli(eng, "rotate", alice["id"], "--json").stdout)
    assert chat(eng, rotated["key"]).status_code == 401 and chat(eng, cli_rotated["key"]).status_code == 200

    done = keys_cli(eng, "revoke", "bob")
    assert done.returncode == 0, done.stderr
    assert chat(eng, bob["key"]).status_code == 401, "refused after revocation"
    assert keys_cli(eng, "revoke", "bob").returncode == 1, "a revoked key cannot be revoked again"
    assert [k["name"] for k in eng.api("GET", "/v0/keys").json()["keys"]] == ["alice"]
    table = keys_cli(eng, "list", "--all").stdout
    assert "revoked" in table and "active" in table and bob["key"] not in table

    entries = eng.api("GET", "/v0/audit").json()["entries"]
    trail = [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]
    assert trail == [(user, "key.created", alice["id"]), ("admin", "key.created", bob["id"]),
                     ("admin", "key.rotated", alice["id"]), (user, "key.rotated", alice["id"]),
                     (user, "key.revoked", bob["id"])]  # fmt: skip
    assert entries[-1]["detail"]["team"] == "red" and entries[-1]["detail"]["rpm"] == 100

    rows = {r["client"]: r for r in eng.records()}
    assert (rows["alice"]["member"], rows["alice"]["team"]) == (alice["id"], "red")
    keys = [alice["key"], bob["key"], rotated["key"], cli_rotated["key"]]
    stored = _stored_text(eng)
    assert hashlib.sha256(cli_rotated["key"].encode()).hexdigest() in stored, "stored hashed"
    logs = "".join(eng.stderr_lines) + "".join(p.read_text(errors="replace") for p in eng.home.rglob("*.log*"))
    events = json.dumps(sub.events)
    sub.close()
    assert "request.finished" in events
    for key in keys:
        assert key not in stored and key[8:] not in stored, "no key in the database in plaintext"
        assert key[8:] not in logs, "no key in the logs"
        assert key[8:] not in events, "no key in the events"


def test_a_member_reads_only_its_own_usage_and_no_admin_endpoint(eng):
    alice = api_create(eng, name="alice", team="red", monthly_budget_usd=5)
    bob = api_create(eng, name="bob", team="blue")
    carol = api_create(eng, name="carol", team="red")
    for key in (alice["key"], alice["key"], bob["key"], carol["key"]):
        assert chat(eng, key).status_code == 200

    own = as_member(eng, alice["key"], "GET", f"/v0/usage?key=me&member={bob['id']}&group=member").json()
    assert own["member"]["id"] == alice["id"] and own["member"]["requests"] == 2
    assert own["member"]["spend_usd"] == pytest.approx(0.4) and own["member"]["models"] == {"gpt-4o-mini": 2}
    assert own["member"]["monthly_budget_usd"] == 5 and "members" not in own and bob["id"] not in json.dumps(own)
    for method, path in (("GET", "/v0/usage"), ("GET", "/v0/usage?group=member"), ("GET", "/v0/status"),
                         ("GET", "/v0/keys"), ("POST", "/v0/keys"), ("POST", f"/v0/keys/{bob['id']}/revoke"),
                         ("GET", "/v0/audit"), ("GET", "/v0/config"), ("GET", "/v0/requests"), ("GET", "/metrics"),
                         ("POST", "/v0/auth/cooldowns/clear"), ("POST", "/v0/shutdown")):  # fmt: skip
        r = as_member(eng, alice["key"], method, path)
        assert r.status_code == 403, (path, r.text)
        assert "only read its own usage" in r.json()["error"]
    assert chat(eng, bob["key"]).status_code == 200, "bob's key still works: alice changed nothing"

    admin = eng.api("GET", "/v0/usage?group=member").json()
    members = {m["name"]: m for m in admin["members"]}
    assert {n: m["requests"] for n, m in members.items()} == {"alice": 2, "bob": 2, "carol": 1}
    assert members["alice"]["spend_usd"] == pytest.approx(0.4) and members["alice"]["last_seen"] > 0
    assert {r["key"]: r["requests"] for r in admin["rows"]} == {alice["id"]: 2, bob["id"]: 2, carol["id"]: 1}
    teams = {t["team"]: t for t in eng.api("GET", "/v0/usage?group=team").json()["teams"]}
    assert (teams["red"]["members"], teams["red"]["requests"]) == (2, 3)
    assert teams["blue"]["spend_usd"] == pytest.approx(0.4)

    eng.api("POST", f"/v0/keys/{alice['id']}/revoke")
    assert as_member(eng, alice["key"], "GET", "/v0/usage?key=me").status_code == 401
    assert as_member(eng, "not-a-key", "GET", "/v0/usage?key=me").status_code == 401
    assert eng.api("GET", "/v0/usage?key=me").status_code == 400, "an admin has no own usage: group=member"


def test_keys_commands_refuse_bad_input_clearly(eng):
    for args, said in ((("create", "x", "--expires", "someday"), "not a date"),
                       (("create", "x", "--rpm", "0"), "rpm must be"),
                       (("create", "bad/name"), "name:")):  # fmt: skip
        done = keys_cli(eng, *args)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    for body in ({"name": "x", "rpm": "many"}, {"name": ""}, {"name": "x", "colour": "red"}, ["x"]):
        r = eng.api("POST", "/v0/keys", json=body)
        assert r.status_code == 400 and r.json()["error"], body
    assert (
        eng.api("POST", "/v0/keys", content=b"{not json", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert eng.api("POST", "/v0/keys/mk_nope/revoke").status_code == 404
    if eng.backend == "sqlite":
        with sqlite3.connect(next(eng.home.rglob("usage.db"))) as conn:
            assert conn.execute("SELECT count(*) FROM member_keys").fetchone() == (0,)
