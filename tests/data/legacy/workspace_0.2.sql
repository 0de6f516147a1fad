-- A workspace as the 0.2 release wrote it (DuckDB 2.0, one file): the final schema of every
-- component's migrations of that release, with a few rows. tests/unit/test_legacy.py runs this
-- under DuckDB 2.0 to make the file, then opens it with this release.
create table schema_versions (component varchar primary key, version integer not null,
    updated_at timestamp default current_timestamp);
insert into schema_versions (component, version) values ('ledger', 3), ('evalsets', 1),
    ('policies', 1), ('budgets', 1), ('pricing', 1), ('runs', 2), ('experiments', 1);

create table ledger (call_id varchar not null, ts timestamp not null, provider varchar,
    model varchar not null, task varchar, eval_run varchar, input_tokens bigint default 0,
    cached_input_tokens bigint default 0, cache_write_tokens bigint default 0,
    output_tokens bigint default 0, cost_usd double default 0, latency_ms double,
    status varchar not null default 'ok', cache_hit boolean not null default false,
    source varchar not null default 'live', experiment varchar, variant varchar,
    request_id varchar, import_file varchar, requests bigint default 1, tags varchar,
    project varchar, kind varchar not null default 'call', cost_basis varchar not null default 'reported');
insert into ledger (call_id, ts, provider, model, task, cost_usd, source)
select 'old-' || i, timestamp '2026-02-01' + to_hours(i), 'openai',
       case when i % 2 = 0 then 'small' else 'big' end, 'support', 0.001 * (i % 10), 'live'
from range(5000) t(i);
create table ledger_daily (day date, provider varchar, model varchar, task varchar, source varchar,
    experiment varchar, variant varchar, project varchar, tags varchar, kind varchar,
    cache_hit boolean, cost_usd double, cost_counted double, requests bigint, rows bigint,
    input_tokens bigint, cached_input_tokens bigint, output_tokens bigint);
-- the rollup lagged behind the ledger (absorbed 10 rows only): the migration must rebuild it
insert into ledger_daily select cast(ts as date), provider, model, task, source, experiment, variant,
    project, tags, kind, cache_hit, sum(cost_usd), sum(cost_usd), sum(requests), count(*),
    sum(input_tokens), sum(cached_input_tokens), sum(output_tokens)
from (select * from ledger order by ts limit 10) group by all;
create table ledger_rollup_state (watermark bigint not null);
insert into ledger_rollup_state values (10);

create sequence evalset_ids start 1;
create table evalsets (id integer primary key default nextval('evalset_ids'), name varchar not null,
    format varchar not null, n_items integer not null, n_models integer not null,
    synthetic boolean not null default false, cost_source json, notes json,
    created_at timestamp not null default current_timestamp);
create table evalset_items (evalset_id integer not null, idx integer not null,
    item_id varchar not null, input varchar, task varchar, label varchar,
    primary key (evalset_id, idx));
create table evalset_item_meta (evalset_id integer not null, idx integer not null,
    key varchar not null, value varchar);
create table evalset_results (evalset_id integer not null, idx integer not null,
    model varchar not null, score double, cost_usd double, latency_ms double, confidence double,
    input_tokens double, output_tokens double, cached_input_tokens double, prediction varchar,
    output varchar);
insert into evalsets (name, format, n_items, n_models, cost_source, notes)
    values ('deleted', 'long', 0, 0, '{}', '[]'), ('old set', 'long', 2, 2, '{"a": "file", "b": "file"}', '[]');
delete from evalsets where name = 'deleted';  -- ids in the old file start at 2
insert into evalset_items values (2, 0, 'i1', 'hello', 't', 'yes'), (2, 1, 'i2', 'bye', 't', 'no');
insert into evalset_item_meta values (2, 0, 'segment', 'smb'), (2, 1, 'segment', 'ent');
insert into evalset_results values
    (2, 0, 'a', 1, 0.001, 10, 0.9, 5, 1, null, 'yes', 'yes'), (2, 1, 'a', 0, 0.001, 10, 0.4, 5, 1, null, 'yes', 'yes'),
    (2, 0, 'b', 1, 0.01, 20, 0.9, 5, 1, null, 'yes', 'yes'), (2, 1, 'b', 1, 0.01, 20, 0.8, 5, 1, null, 'no', 'no');

create sequence if not exists policies_id_seq start 1;
create table policies (id integer primary key default nextval('policies_id_seq'), name varchar not null,
    kind varchar not null, models varchar not null, spec_json varchar not null,
    meta_json varchar not null, created_at timestamp not null default current_timestamp);
insert into policies (name, kind, models, spec_json, meta_json) values
    ('old cascade', 'cascade', 'a, b', '{"kind": "cascade", "models": ["a", "b"], "thresholds": [0.7], "signal": "confidence"}', '{"goal": "match:b"}');

create table budgets (task varchar, period varchar not null, amount_usd double not null,
    updated_at timestamp not null default current_timestamp);
create table task_flags (task varchar primary key, urgent boolean not null);
insert into budgets (task, period, amount_usd) values (null, 'monthly', 400), ('support', 'daily', 5);
insert into task_flags values ('support', false);

create table pricing_overrides (model_key varchar primary key, model varchar not null, provider varchar,
    input_per_mtok double not null, output_per_mtok double not null, cached_read_per_mtok double,
    cached_write_per_mtok double, tiers json, note varchar,
    updated_at timestamp not null default current_timestamp);
insert into pricing_overrides (model_key, model, provider, input_per_mtok, output_per_mtok)
    values ('acme:custom', 'acme:custom', 'acme', 2.0, 4.0);

create table runs (run_id varchar primary key, name varchar not null, evalset_id integer,
    models json not null, config json not null, n_items integer not null, status varchar not null,
    source varchar not null default 'live', experiment varchar, results_evalset_id integer,
    message varchar, created_at timestamp not null, updated_at timestamp not null);
create table run_calls (run_id varchar not null, item_id varchar not null, idx integer not null,
    model varchar not null, answered_by varchar, call_id varchar not null, ts timestamp not null,
    status varchar not null, error_kind varchar, error_message varchar,
    attempts integer not null default 0, retry_wait_s double not null default 0,
    input_tokens bigint, output_tokens bigint, cached_read_tokens bigint, cached_write_tokens bigint,
    cost_usd double, latency_ms double, cache_hit boolean not null default false, output varchar,
    prediction varchar, confidence double, parse_ok boolean, request_id varchar,
    primary key (run_id, item_id, model), logprob_confidence double);
insert into runs values ('r1', 'old run', 2, '["openai:a"]', '{}', 2, 'finished', 'live', null, null, null,
    timestamp '2026-02-01', timestamp '2026-02-01');
insert into run_calls (run_id, item_id, idx, model, call_id, ts, status)
    values ('r1', 'i1', 0, 'openai:a', 'old-1', timestamp '2026-02-01', 'ok');

create sequence experiment_ids start 1;
create table experiments (id integer primary key default nextval('experiment_ids'), name varchar not null,
    kind varchar not null, evalset_name varchar, definition json not null, results json not null,
    created_at timestamp not null default current_timestamp);
