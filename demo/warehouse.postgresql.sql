-- The demo warehouse of docker-compose.yml, a database apart from the metadata database (which no
-- connection or warehouse may use). Run once by the postgres image, as POSTGRES_USER, on a new volume.
CREATE DATABASE warehouse;
