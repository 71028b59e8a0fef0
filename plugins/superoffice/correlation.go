package superoffice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"synchronizer/plugins/sdk"
	"synchronizer/plugins/superoffice/internal/wire"
)

// Our marks on SuperOffice records are foreign keys (the integrators' own keys)
// of app "Synchronizer", device "diary", device identifier = the diary's
// associate id:
//
//	syncId      on table appointment (a single row or an exception we wrote) or
//	            recurrencerule (a series we wrote): the correlation id
//	syncSeries  on table recurrencerule: how we wrote the series (seriesMeta)
//
// Storing keys on table "recurrencerule" is [unconfirmed] against a real tenant;
// the emulator accepts any table name.
const (
	fkApp       = "Synchronizer"
	fkDevice    = "diary"
	keyCorr     = "syncId"
	keySeries   = "syncSeries"
	tableAppt   = "appointment"
	tableRule   = "recurrencerule"
	masterIDPre = "R"
)

// seriesMeta records what a series we wrote looked like on the other side.
type seriesMeta struct {
	// Open: the rule had no end; SuperOffice needs one, so it was cut at Cut
	// (YYYY-MM-DD, local) and is extended as time goes by.
	Open bool   `json:"o,omitempty"`
	Cut  string `json:"c,omitempty"`
	// RRule: the rule as given, when SuperOffice's patterns could not express it
	// and the dates were written as a Custom pattern.
	RRule string `json:"r,omitempty"`
	Corr  string `json:"-"`
}

func keyPath(t sdk.Target) string {
	return "/v1/ForeignApp/" + fkApp + "/" + fkDevice + "/" + url.PathEscape(t.Account)
}

// setKey creates or replaces a foreign key, creating the device on first use.
func (in *instance) setKey(ctx context.Context, t sdk.Target, key, table string, record int, value string) error {
	body := wire.ForeignKey{Key: key, Value: value, TableName: table, RecordId: wire.FlexInt(record)}
	_, err := in.call(ctx, t, request{method: http.MethodPost, path: keyPath(t) + "/Key", body: body})
	if errors.Is(err, sdk.ErrNotFound) {
		if _, derr := in.call(ctx, t, request{method: http.MethodPost, path: keyPath(t), body: json.RawMessage("null")}); derr != nil {
			return fmt.Errorf("create foreign device: %w", derr)
		}
		_, err = in.call(ctx, t, request{method: http.MethodPost, path: keyPath(t) + "/Key", body: body})
	}
	if err != nil {
		return fmt.Errorf("store %s on %s %d: %w", key, table, record, err)
	}
	if key == keyCorr && table == tableAppt {
		in.mu.Lock()
		if in.cache.corr == nil || len(in.cache.corr) > maxCachedRows {
			in.cache.corr = map[int]string{}
		}
		in.cache.corr[record] = value
		in.mu.Unlock()
	}
	return nil
}

// getKey reads a foreign key of a record; ok is false when it has none.
func (in *instance) getKey(ctx context.Context, t sdk.Target, key, table string, record int) (string, bool, error) {
	var fk wire.ForeignKey
	resp, err := in.get(ctx, t, keyPath(t)+"/Key/"+key+"/"+table+"/"+strconv.Itoa(record), nil, &fk)
	if errors.Is(err, sdk.ErrNotFound) || (err == nil && (resp.null || fk.Key == "")) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s of %s %d: %w", key, table, record, err)
	}
	return fk.Value, true, nil
}

// findKey finds the record carrying a key value.
func (in *instance) findKey(ctx context.Context, t sdk.Target, key, table, value string) (int, bool, error) {
	var fk wire.ForeignKey
	resp, err := in.get(ctx, t, keyPath(t)+"/Key/"+key+"/"+table, url.Values{"Value": {value}}, &fk)
	if errors.Is(err, sdk.ErrNotFound) || (err == nil && (resp.null || fk.RecordId == 0)) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("find %s %q: %w", key, value, err)
	}
	return int(fk.RecordId), true, nil
}

// rowCorrelation returns the correlation id of a row, from the cache or the
// server.
func (in *instance) rowCorrelation(ctx context.Context, t sdk.Target, id int) (string, error) {
	in.mu.Lock()
	c, ok := in.cache.corr[id]
	in.mu.Unlock()
	if ok {
		return c, nil
	}
	v, found, err := in.getKey(ctx, t, keyCorr, tableAppt, id)
	if err != nil {
		return "", err
	}
	in.mu.Lock()
	if in.cache.corr == nil || len(in.cache.corr) > maxCachedRows {
		in.cache.corr = map[int]string{}
	}
	if found {
		in.cache.corr[id] = v
	} else {
		in.cache.corr[id] = ""
	}
	in.mu.Unlock()
	return v, nil
}

// seriesInfo returns our marks on a series (zero when we did not write it).
func (in *instance) seriesInfo(ctx context.Context, t sdk.Target, rule int) (seriesMeta, error) {
	in.mu.Lock()
	m, ok := in.cache.seriesMD[rule]
	in.mu.Unlock()
	if ok {
		return *m, nil
	}
	var meta seriesMeta
	corr, _, err := in.getKey(ctx, t, keyCorr, tableRule, rule)
	if err != nil {
		return meta, err
	}
	raw, found, err := in.getKey(ctx, t, keySeries, tableRule, rule)
	if err != nil {
		return meta, err
	}
	if found && raw != "" {
		if err := json.Unmarshal([]byte(raw), &meta); err != nil {
			in.logger.Warn("ignoring an unreadable series mark", "rule", rule, "error", err)
			meta = seriesMeta{}
		}
	}
	meta.Corr = corr
	in.cacheSeries(rule, meta)
	return meta, nil
}

func (in *instance) cacheSeries(rule int, meta seriesMeta) {
	in.mu.Lock()
	if in.cache.seriesMD == nil || len(in.cache.seriesMD) > maxCached {
		in.cache.seriesMD = map[int]*seriesMeta{}
	}
	in.cache.seriesMD[rule] = &meta
	in.mu.Unlock()
}

// saveSeriesInfo stores our marks on a series.
func (in *instance) saveSeriesInfo(ctx context.Context, t sdk.Target, rule int, meta seriesMeta) error {
	if meta.Corr != "" {
		if err := in.setKey(ctx, t, keyCorr, tableRule, rule, meta.Corr); err != nil {
			return err
		}
	}
	if meta.Open || meta.RRule != "" {
		raw, _ := json.Marshal(meta)
		if err := in.setKey(ctx, t, keySeries, tableRule, rule, string(raw)); err != nil {
			return err
		}
	}
	in.cacheSeries(rule, meta)
	return nil
}

// FindByCorrelation implements sdk.Provider: the row or series of t's diary that
// carries the correlation id.
func (p *Provider) FindByCorrelation(ctx context.Context, t sdk.Target, correlationID string) ([]sdk.Event, error) {
	in, err := p.instance(t.Instance)
	if err != nil {
		return nil, err
	}
	if correlationID == "" {
		return nil, fmt.Errorf("find by correlation: empty id: %w", sdk.ErrInvalidArgument)
	}
	var out []sdk.Event
	for _, table := range []string{tableAppt, tableRule} {
		rec, found, err := in.findKey(ctx, t, keyCorr, table, correlationID)
		if err != nil {
			return nil, fmt.Errorf("find by correlation in %s: %w", t.Account, err)
		}
		if !found {
			continue
		}
		id := strconv.Itoa(rec)
		if table == tableRule {
			id = masterIDPre + id
		}
		ev, err := p.get(ctx, in, t, id)
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find by correlation in %s: %w", t.Account, err)
		}
		if table == tableRule && ev.MeetingKey != "" && !ev.IsOrganizer {
			continue // a participant's rows share the organizer's rule and its mark
		}
		ev.CorrelationID = correlationID
		out = append(out, ev)
	}
	return out, nil
}
