-- The head schema of flowy-store-sqlite for SQLite, generated from schema.py.
-- Regenerate: python -c 'from flowy_store_sqlite import schema; schema.write_sqlite_ddl()'
CREATE TABLE alerts (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	rule VARCHAR(255) NOT NULL,
	kind VARCHAR(32) NOT NULL,
	subject VARCHAR(255) NOT NULL,
	status VARCHAR(32) NOT NULL,
	severity VARCHAR(32) NOT NULL,
	message TEXT NOT NULL,
	pipeline VARCHAR(255),
	run_id VARCHAR(64),
	step VARCHAR(255),
	artifact_id VARCHAR(64),
	model VARCHAR(255),
	model_version INTEGER,
	details TEXT NOT NULL,
	fired_at FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	resolved_at FLOAT
);

CREATE INDEX ix_alerts_fired_at ON alerts (fired_at);

CREATE INDEX ix_alerts_rule_subject_status ON alerts (rule, subject, status);

CREATE TABLE cache_entries (
	"key" VARCHAR(255) NOT NULL,
	pipeline VARCHAR(255) NOT NULL,
	step VARCHAR(255) NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	components TEXT NOT NULL,
	outputs TEXT NOT NULL,
	created_at FLOAT NOT NULL,
	hits INTEGER NOT NULL,
	size BIGINT,
	last_used_at FLOAT,
	CONSTRAINT pk_cache_entries PRIMARY KEY ("key")
);

CREATE INDEX ix_cache_entries_pipeline_step_created_at ON cache_entries (pipeline, step, created_at);

CREATE TABLE cache_limits (
	pipeline VARCHAR(255) NOT NULL,
	ttl FLOAT,
	max_bytes BIGINT,
	CONSTRAINT pk_cache_limits PRIMARY KEY (pipeline)
);

CREATE TABLE circuit_breakers (
	pipeline VARCHAR(255) NOT NULL,
	step VARCHAR(255) NOT NULL,
	state VARCHAR(32) NOT NULL,
	failures INTEGER NOT NULL,
	opened_at FLOAT,
	trial_run_id VARCHAR(64),
	last_error TEXT,
	updated_at FLOAT NOT NULL,
	CONSTRAINT pk_circuit_breakers PRIMARY KEY (pipeline, step)
);

CREATE TABLE model_stage_history (
	id INTEGER NOT NULL,
	name VARCHAR(255) NOT NULL,
	version INTEGER NOT NULL,
	action VARCHAR(32) NOT NULL,
	from_stage VARCHAR(255),
	to_stage VARCHAR(255) NOT NULL,
	user VARCHAR(255) NOT NULL,
	at FLOAT NOT NULL,
	CONSTRAINT pk_model_stage_history PRIMARY KEY (id)
);

CREATE INDEX ix_model_stage_history_name_id ON model_stage_history (name, id);

CREATE TABLE registered_models (
	name VARCHAR(255) NOT NULL,
	created_at FLOAT NOT NULL,
	description TEXT NOT NULL,
	CONSTRAINT pk_registered_models PRIMARY KEY (name)
);

CREATE TABLE run_cancel_requests (
	run_id VARCHAR(64) NOT NULL,
	requested_at FLOAT NOT NULL,
	requested_by VARCHAR(255) NOT NULL,
	CONSTRAINT pk_run_cancel_requests PRIMARY KEY (run_id)
);

CREATE TABLE run_changes (
	seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	run_id VARCHAR(64) NOT NULL,
	step VARCHAR(255),
	kind VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	at FLOAT NOT NULL
);

CREATE INDEX ix_run_changes_run_id_seq ON run_changes (run_id, seq);

CREATE TABLE runs (
	run_id VARCHAR(64) NOT NULL,
	pipeline VARCHAR(255) NOT NULL,
	status VARCHAR(32) NOT NULL,
	params TEXT NOT NULL,
	stack TEXT NOT NULL,
	started_at FLOAT NOT NULL,
	finished_at FLOAT,
	git TEXT NOT NULL,
	environment TEXT NOT NULL,
	experiment VARCHAR(255),
	pid INTEGER,
	host VARCHAR(255),
	CONSTRAINT pk_runs PRIMARY KEY (run_id)
);

CREATE INDEX ix_runs_experiment_started_at ON runs (experiment, started_at);

CREATE INDEX ix_runs_pipeline_started_at ON runs (pipeline, started_at);

CREATE INDEX ix_runs_pipeline_status_finished_at ON runs (pipeline, status, finished_at);

CREATE INDEX ix_runs_started_at ON runs (started_at);

CREATE INDEX ix_runs_started_at_run_id ON runs (started_at, run_id);

CREATE TABLE scheduler_heartbeats (
	scheduler_id VARCHAR(64) NOT NULL,
	host VARCHAR(255) NOT NULL,
	pid INTEGER NOT NULL,
	started_at FLOAT NOT NULL,
	heartbeat_at FLOAT NOT NULL,
	CONSTRAINT pk_scheduler_heartbeats PRIMARY KEY (scheduler_id)
);

CREATE TABLE schedules (
	name VARCHAR(255) NOT NULL,
	pipeline TEXT NOT NULL,
	cron VARCHAR(255) NOT NULL,
	timezone VARCHAR(255) NOT NULL,
	params TEXT NOT NULL,
	stack VARCHAR(255),
	workdir TEXT,
	paused INTEGER NOT NULL,
	allow_overlap INTEGER NOT NULL,
	catchup VARCHAR(32) NOT NULL,
	created_at FLOAT NOT NULL,
	last_fire_at FLOAT,
	CONSTRAINT pk_schedules PRIMARY KEY (name)
);

CREATE TABLE step_output (
	seq INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	run_id VARCHAR(64) NOT NULL,
	step VARCHAR(255) NOT NULL,
	text TEXT NOT NULL,
	at FLOAT NOT NULL
);

CREATE INDEX ix_step_output_run_id_step_seq ON step_output (run_id, step, seq);

CREATE TABLE alert_deliveries (
	id INTEGER NOT NULL,
	alert_id INTEGER NOT NULL,
	notifier VARCHAR(255) NOT NULL,
	event VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	attempts INTEGER NOT NULL,
	error TEXT,
	at FLOAT NOT NULL,
	CONSTRAINT pk_alert_deliveries PRIMARY KEY (id),
	CONSTRAINT fk_alert_deliveries_alert_id_alerts FOREIGN KEY(alert_id) REFERENCES alerts (id)
);

CREATE INDEX ix_alert_deliveries_alert_id ON alert_deliveries (alert_id);

CREATE INDEX ix_alert_deliveries_status_at ON alert_deliveries (status, at);

CREATE TABLE artifacts (
	artifact_id VARCHAR(64) NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	step VARCHAR(255) NOT NULL,
	name VARCHAR(255) NOT NULL,
	uri TEXT NOT NULL,
	type_name VARCHAR(255) NOT NULL,
	materializer VARCHAR(255) NOT NULL,
	materializer_version VARCHAR(32) NOT NULL,
	checksum VARCHAR(128) NOT NULL,
	size BIGINT NOT NULL,
	metadata TEXT NOT NULL,
	created_at FLOAT NOT NULL,
	asset_type VARCHAR(32) DEFAULT 'artifact' NOT NULL,
	asset_name VARCHAR(255),
	CONSTRAINT pk_artifacts PRIMARY KEY (artifact_id),
	CONSTRAINT fk_artifacts_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_artifacts_asset_name_created_at ON artifacts (asset_name, created_at);

CREATE INDEX ix_artifacts_asset_type_created_at ON artifacts (asset_type, created_at);

CREATE INDEX ix_artifacts_created_at ON artifacts (created_at);

CREATE INDEX ix_artifacts_name_created_at ON artifacts (name, created_at);

CREATE INDEX ix_artifacts_run_id ON artifacts (run_id);

CREATE TABLE metrics (
	id INTEGER NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	step VARCHAR(255) NOT NULL,
	name VARCHAR(255) NOT NULL,
	value FLOAT,
	idx BIGINT,
	timestamp FLOAT NOT NULL,
	CONSTRAINT pk_metrics PRIMARY KEY (id),
	CONSTRAINT fk_metrics_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_metrics_name_run_id ON metrics (name, run_id);

CREATE INDEX ix_metrics_name_value ON metrics (name, value);

CREATE INDEX ix_metrics_run_id ON metrics (run_id);

CREATE INDEX ix_metrics_run_id_name_id ON metrics (run_id, name, id);

CREATE TABLE params (
	run_id VARCHAR(64) NOT NULL,
	name VARCHAR(255) NOT NULL,
	value TEXT NOT NULL,
	CONSTRAINT pk_params PRIMARY KEY (run_id, name),
	CONSTRAINT fk_params_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_params_name_run_id ON params (name, run_id);

CREATE TABLE schedule_fires (
	schedule VARCHAR(255) NOT NULL,
	fire_at FLOAT NOT NULL,
	status VARCHAR(32) NOT NULL,
	run_id VARCHAR(64),
	reason TEXT,
	claimed_at FLOAT NOT NULL,
	pid INTEGER,
	host VARCHAR(255),
	log TEXT,
	CONSTRAINT pk_schedule_fires PRIMARY KEY (schedule, fire_at),
	CONSTRAINT fk_schedule_fires_schedule_schedules FOREIGN KEY(schedule) REFERENCES schedules (name)
);

CREATE TABLE step_runs (
	id INTEGER NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	step VARCHAR(255) NOT NULL,
	status VARCHAR(32) NOT NULL,
	started_at FLOAT NOT NULL,
	finished_at FLOAT,
	attempts INTEGER NOT NULL,
	cache_key VARCHAR(255),
	code_hash VARCHAR(255),
	error TEXT,
	error_type VARCHAR(255),
	traceback TEXT,
	logs TEXT NOT NULL,
	params TEXT NOT NULL,
	inputs TEXT NOT NULL,
	outputs TEXT NOT NULL,
	tags TEXT DEFAULT '[]' NOT NULL,
	cpu_seconds FLOAT,
	peak_rss_bytes BIGINT,
	read_bytes BIGINT,
	written_bytes BIGINT,
	gpu_memory_bytes BIGINT,
	gpu_utilization FLOAT,
	CONSTRAINT pk_step_runs PRIMARY KEY (id),
	CONSTRAINT fk_step_runs_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_step_runs_run_id ON step_runs (run_id);

CREATE INDEX ix_step_runs_step_status ON step_runs (step, status);

CREATE TABLE artifact_tags (
	artifact_id VARCHAR(64) NOT NULL,
	tag VARCHAR(255) NOT NULL,
	CONSTRAINT pk_artifact_tags PRIMARY KEY (artifact_id, tag),
	CONSTRAINT fk_artifact_tags_artifact_id_artifacts FOREIGN KEY(artifact_id) REFERENCES artifacts (artifact_id)
);

CREATE INDEX ix_artifact_tags_tag_artifact_id ON artifact_tags (tag, artifact_id);

CREATE TABLE lineage (
	id INTEGER NOT NULL,
	artifact_id VARCHAR(64) NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	step VARCHAR(255) NOT NULL,
	direction VARCHAR(16) NOT NULL,
	name VARCHAR(255) NOT NULL,
	CONSTRAINT pk_lineage PRIMARY KEY (id),
	CONSTRAINT fk_lineage_artifact_id_artifacts FOREIGN KEY(artifact_id) REFERENCES artifacts (artifact_id),
	CONSTRAINT fk_lineage_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_lineage_artifact_id_direction_run_id_step ON lineage (artifact_id, direction, run_id, step);

CREATE INDEX ix_lineage_run_id_step_direction_artifact_id ON lineage (run_id, step, direction, artifact_id);

CREATE TABLE model_versions (
	name VARCHAR(255) NOT NULL,
	version INTEGER NOT NULL,
	artifact_id VARCHAR(64) NOT NULL,
	run_id VARCHAR(64) NOT NULL,
	stage VARCHAR(255) NOT NULL,
	created_at FLOAT NOT NULL,
	created_by VARCHAR(255) NOT NULL,
	description TEXT NOT NULL,
	CONSTRAINT pk_model_versions PRIMARY KEY (name, version),
	CONSTRAINT fk_model_versions_name_registered_models FOREIGN KEY(name) REFERENCES registered_models (name),
	CONSTRAINT fk_model_versions_artifact_id_artifacts FOREIGN KEY(artifact_id) REFERENCES artifacts (artifact_id),
	CONSTRAINT fk_model_versions_run_id_runs FOREIGN KEY(run_id) REFERENCES runs (run_id)
);

CREATE INDEX ix_model_versions_artifact_id ON model_versions (artifact_id);

CREATE INDEX ix_model_versions_name_stage ON model_versions (name, stage);

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

INSERT INTO alembic_version (version_num) VALUES ('0009_cache_limits');
