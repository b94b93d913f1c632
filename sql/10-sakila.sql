-- A sakila-compatible subset: the tables a customer registration touches, with sakila's column
-- names and types, except INT UNSIGNED ids where sakila has SMALLINT (sakila caps at 65,535
-- customers). cdctop init runs this file only when the database has no `customer` table, so a
-- real sakila database is never touched. Statements end with ';' at the end of a line.
SET FOREIGN_KEY_CHECKS = 0;

CREATE TABLE IF NOT EXISTS country (
  country_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  country VARCHAR(50) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (country_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS city (
  city_id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
  city VARCHAR(50) NOT NULL,
  country_id SMALLINT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (city_id),
  KEY idx_fk_country_id (country_id),
  CONSTRAINT fk_city_country FOREIGN KEY (country_id) REFERENCES country (country_id) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS address (
  address_id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  address VARCHAR(50) NOT NULL,
  address2 VARCHAR(50) DEFAULT NULL,
  district VARCHAR(20) NOT NULL,
  city_id SMALLINT UNSIGNED NOT NULL,
  postal_code VARCHAR(10) DEFAULT NULL,
  phone VARCHAR(20) NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (address_id),
  KEY idx_fk_city_id (city_id),
  CONSTRAINT fk_address_city FOREIGN KEY (city_id) REFERENCES city (city_id) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS staff (
  staff_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
  first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL,
  address_id INT UNSIGNED NOT NULL,
  picture BLOB DEFAULT NULL,
  email VARCHAR(50) DEFAULT NULL,
  store_id TINYINT UNSIGNED NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  username VARCHAR(16) NOT NULL,
  password VARCHAR(40) BINARY DEFAULT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (staff_id),
  KEY idx_fk_store_id (store_id),
  KEY idx_fk_address_id (address_id),
  CONSTRAINT fk_staff_address FOREIGN KEY (address_id) REFERENCES address (address_id) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS store (
  store_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
  manager_staff_id TINYINT UNSIGNED NOT NULL,
  address_id INT UNSIGNED NOT NULL,
  last_update TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (store_id),
  UNIQUE KEY idx_unique_manager (manager_staff_id),
  KEY idx_fk_address_id (address_id),
  CONSTRAINT fk_store_staff FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id) ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT fk_store_address FOREIGN KEY (address_id) REFERENCES address (address_id) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS customer (
  customer_id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  store_id TINYINT UNSIGNED NOT NULL,
  first_name VARCHAR(45) NOT NULL,
  last_name VARCHAR(45) NOT NULL,
  email VARCHAR(50) DEFAULT NULL,
  address_id INT UNSIGNED NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE,
  create_date DATETIME NOT NULL,
  last_update TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (customer_id),
  KEY idx_fk_store_id (store_id),
  KEY idx_fk_address_id (address_id),
  KEY idx_last_name (last_name),
  CONSTRAINT fk_customer_address FOREIGN KEY (address_id) REFERENCES address (address_id) ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT fk_customer_store FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE RESTRICT ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE staff ADD CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (store_id) ON DELETE RESTRICT ON UPDATE CASCADE;

INSERT IGNORE INTO country (country_id, country) VALUES
  (1, 'Argentina'), (2, 'Australia'), (3, 'Brazil'), (4, 'Canada'), (5, 'China'),
  (6, 'France'), (7, 'Germany'), (8, 'India'), (9, 'Japan'), (10, 'Mexico'),
  (11, 'Nigeria'), (12, 'Spain'), (13, 'United Kingdom'), (14, 'United States');

INSERT IGNORE INTO city (city_id, city, country_id) VALUES
  (1, 'Buenos Aires', 1), (2, 'Córdoba', 1), (3, 'Sydney', 2), (4, 'Melbourne', 2),
  (5, 'São Paulo', 3), (6, 'Rio de Janeiro', 3), (7, 'Toronto', 4), (8, 'Lethbridge', 4),
  (9, 'Vancouver', 4), (10, 'Shanghai', 5), (11, 'Beijing', 5), (12, 'Paris', 6),
  (13, 'Lyon', 6), (14, 'Berlin', 7), (15, 'München', 7), (16, 'Mumbai', 8),
  (17, 'Bangalore', 8), (18, 'Tokyo', 9), (19, 'Osaka', 9), (20, 'Ciudad de México', 10),
  (21, 'Guadalajara', 10), (22, 'Lagos', 11), (23, 'Abuja', 11), (24, 'Madrid', 12),
  (25, 'Sevilla', 12), (26, 'London', 13), (27, 'Manchester', 13), (28, 'Woodridge', 2),
  (29, 'New York', 14), (30, 'San Francisco', 14), (31, 'Chicago', 14), (32, 'Austin', 14),
  (33, 'Seattle', 14), (34, 'Boston', 14), (35, 'Denver', 14), (36, 'Miami', 14);

INSERT IGNORE INTO address (address_id, address, address2, district, city_id, postal_code, phone) VALUES
  (1, '47 MySakila Drive', NULL, 'Alberta', 8, '', ''),
  (2, '28 MySQL Boulevard', NULL, 'QLD', 28, '', ''),
  (3, '23 Workhaven Lane', NULL, 'Alberta', 8, '', '14033335568'),
  (4, '1411 Lillydale Drive', NULL, 'QLD', 28, '', '6172235589');

INSERT IGNORE INTO staff (staff_id, first_name, last_name, address_id, email, store_id, active, username) VALUES
  (1, 'Mike', 'Hillyer', 3, 'Mike.Hillyer@sakilastaff.com', 1, 1, 'Mike'),
  (2, 'Jon', 'Stephens', 4, 'Jon.Stephens@sakilastaff.com', 2, 1, 'Jon');

INSERT IGNORE INTO store (store_id, manager_staff_id, address_id) VALUES (1, 1, 1), (2, 2, 2);

SET FOREIGN_KEY_CHECKS = 1;
