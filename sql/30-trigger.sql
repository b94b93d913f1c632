-- The capture trigger: every inserted customer becomes one change row, from NEW.* (the
-- original trigger read its own unset columns and stored NULLs). SYSDATE(6) is per row, where
-- NOW(6) would be one value for a whole statement. Created only when absent (cdctop init).
CREATE TRIGGER customer_after_insert_cdc AFTER INSERT ON customer FOR EACH ROW
  INSERT INTO users_change_events (event_type, event_timestamp, customer_id, store_id,
    first_name, last_name, email, address_id, active, create_date)
  VALUES ('INSERT', SYSDATE(6), NEW.customer_id, NEW.store_id, NEW.first_name, NEW.last_name,
    NEW.email, NEW.address_id, NEW.active, NEW.create_date);
