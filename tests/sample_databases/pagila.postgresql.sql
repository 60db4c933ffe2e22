-- Pagila: a slice of the customer table of the Pagila sample database (a PostgreSQL port of
-- Sakila), https://github.com/devrimgunduz/pagila, made available under the PostgreSQL licence;
-- Copyright (c) Devrim Gunduz (see README.md in this directory for the licence text).
--
-- The table as pagila-schema.sql defined it (the 2017 schema, with varchar columns and a timestamp
-- without time zone; its sequence default left out), and customers 1 to 40 as pagila-data.sql holds
-- them (its 2014 data), row for row: its COPY block written as an INSERT.

CREATE TABLE customer (
    customer_id integer NOT NULL,
    store_id smallint NOT NULL,
    first_name character varying(45) NOT NULL,
    last_name character varying(45) NOT NULL,
    email character varying(50),
    address_id smallint NOT NULL,
    activebool boolean DEFAULT true NOT NULL,
    create_date date DEFAULT ('now'::text)::date NOT NULL,
    last_update timestamp without time zone DEFAULT now(),
    active integer,
    CONSTRAINT customer_pkey PRIMARY KEY (customer_id)
);

INSERT INTO customer (customer_id, store_id, first_name, last_name, email, address_id, activebool, create_date,
                      last_update, active) VALUES
(1, 1, 'MARY', 'SMITH', 'MARY.SMITH@sakilacustomer.org', 5, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(2, 1, 'PATRICIA', 'JOHNSON', 'PATRICIA.JOHNSON@sakilacustomer.org', 6, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(3, 1, 'LINDA', 'WILLIAMS', 'LINDA.WILLIAMS@sakilacustomer.org', 7, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(4, 2, 'BARBARA', 'JONES', 'BARBARA.JONES@sakilacustomer.org', 8, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(5, 1, 'ELIZABETH', 'BROWN', 'ELIZABETH.BROWN@sakilacustomer.org', 9, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(6, 2, 'JENNIFER', 'DAVIS', 'JENNIFER.DAVIS@sakilacustomer.org', 10, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(7, 1, 'MARIA', 'MILLER', 'MARIA.MILLER@sakilacustomer.org', 11, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(8, 2, 'SUSAN', 'WILSON', 'SUSAN.WILSON@sakilacustomer.org', 12, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(9, 2, 'MARGARET', 'MOORE', 'MARGARET.MOORE@sakilacustomer.org', 13, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(10, 1, 'DOROTHY', 'TAYLOR', 'DOROTHY.TAYLOR@sakilacustomer.org', 14, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(11, 2, 'LISA', 'ANDERSON', 'LISA.ANDERSON@sakilacustomer.org', 15, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(12, 1, 'NANCY', 'THOMAS', 'NANCY.THOMAS@sakilacustomer.org', 16, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(13, 2, 'KAREN', 'JACKSON', 'KAREN.JACKSON@sakilacustomer.org', 17, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(14, 2, 'BETTY', 'WHITE', 'BETTY.WHITE@sakilacustomer.org', 18, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(15, 1, 'HELEN', 'HARRIS', 'HELEN.HARRIS@sakilacustomer.org', 19, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(16, 2, 'SANDRA', 'MARTIN', 'SANDRA.MARTIN@sakilacustomer.org', 20, true, '2014-02-14', '2014-02-15 09:57:20', 0),
(17, 1, 'DONNA', 'THOMPSON', 'DONNA.THOMPSON@sakilacustomer.org', 21, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(18, 2, 'CAROL', 'GARCIA', 'CAROL.GARCIA@sakilacustomer.org', 22, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(19, 1, 'RUTH', 'MARTINEZ', 'RUTH.MARTINEZ@sakilacustomer.org', 23, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(20, 2, 'SHARON', 'ROBINSON', 'SHARON.ROBINSON@sakilacustomer.org', 24, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(21, 1, 'MICHELLE', 'CLARK', 'MICHELLE.CLARK@sakilacustomer.org', 25, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(22, 1, 'LAURA', 'RODRIGUEZ', 'LAURA.RODRIGUEZ@sakilacustomer.org', 26, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(23, 2, 'SARAH', 'LEWIS', 'SARAH.LEWIS@sakilacustomer.org', 27, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(24, 2, 'KIMBERLY', 'LEE', 'KIMBERLY.LEE@sakilacustomer.org', 28, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(25, 1, 'DEBORAH', 'WALKER', 'DEBORAH.WALKER@sakilacustomer.org', 29, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(26, 2, 'JESSICA', 'HALL', 'JESSICA.HALL@sakilacustomer.org', 30, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(27, 2, 'SHIRLEY', 'ALLEN', 'SHIRLEY.ALLEN@sakilacustomer.org', 31, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(28, 1, 'CYNTHIA', 'YOUNG', 'CYNTHIA.YOUNG@sakilacustomer.org', 32, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(29, 2, 'ANGELA', 'HERNANDEZ', 'ANGELA.HERNANDEZ@sakilacustomer.org', 33, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(30, 1, 'MELISSA', 'KING', 'MELISSA.KING@sakilacustomer.org', 34, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(31, 2, 'BRENDA', 'WRIGHT', 'BRENDA.WRIGHT@sakilacustomer.org', 35, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(32, 1, 'AMY', 'LOPEZ', 'AMY.LOPEZ@sakilacustomer.org', 36, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(33, 2, 'ANNA', 'HILL', 'ANNA.HILL@sakilacustomer.org', 37, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(34, 2, 'REBECCA', 'SCOTT', 'REBECCA.SCOTT@sakilacustomer.org', 38, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(35, 2, 'VIRGINIA', 'GREEN', 'VIRGINIA.GREEN@sakilacustomer.org', 39, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(36, 2, 'KATHLEEN', 'ADAMS', 'KATHLEEN.ADAMS@sakilacustomer.org', 40, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(37, 1, 'PAMELA', 'BAKER', 'PAMELA.BAKER@sakilacustomer.org', 41, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(38, 1, 'MARTHA', 'GONZALEZ', 'MARTHA.GONZALEZ@sakilacustomer.org', 42, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(39, 1, 'DEBRA', 'NELSON', 'DEBRA.NELSON@sakilacustomer.org', 43, true, '2014-02-14', '2014-02-15 09:57:20', 1),
(40, 2, 'AMANDA', 'CARTER', 'AMANDA.CARTER@sakilacustomer.org', 44, true, '2014-02-14', '2014-02-15 09:57:20', 1);
