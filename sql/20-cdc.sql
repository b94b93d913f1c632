-- The CDC objects, created if missing and never altered or dropped: the change log the trigger
-- fills (one row per registration, VARCHAR columns only so that a binlog reader can decode
-- them) and the relay's progress, one row per topic: by log_id for the trigger capture, by
-- binlog position for --capture=binlog. Statements end with ';' at end of line.
CREATE TABLE IF NOT EXISTS users_change_events (
  log_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  event_type VARCHAR(16) NOT NULL,
  event_timestamp TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  customer_id INT UNSIGNED NOT NULL,
  store_id INT UNSIGNED NOT NULL,
  first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL,
  email VARCHAR(50) DEFAULT NULL,
  address_id INT UNSIGNED NOT NULL,
  active TINYINT NOT NULL,
  create_date DATETIME NOT NULL,
  PRIMARY KEY (log_id),
  KEY idx_event_timestamp (event_timestamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS latest_cdc_timestamp (
  topic VARCHAR(255) NOT NULL,
  last_log_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_event_timestamp TIMESTAMP(6) NULL DEFAULT NULL,
  relayed BIGINT UNSIGNED NOT NULL DEFAULT 0,
  skipped BIGINT UNSIGNED NOT NULL DEFAULT 0,
  pending_gaps VARCHAR(4000) NOT NULL DEFAULT '',
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (topic)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS latest_cdc_binlog (
  topic VARCHAR(255) NOT NULL,
  file VARCHAR(64) NOT NULL,
  pos BIGINT UNSIGNED NOT NULL,
  last_customer_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  relayed BIGINT UNSIGNED NOT NULL DEFAULT 0,
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (topic)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
