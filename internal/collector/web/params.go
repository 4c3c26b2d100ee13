package web

import (
	"net/url"
	"strconv"

	"github.com/firewatch/firewatch/internal/collector/web/params"
	"github.com/firewatch/firewatch/internal/model"
	"github.com/firewatch/firewatch/internal/store"
)

// statuses are the measurement statuses a filter may name.
var statuses = append(model.VerdictStatuses(), model.StatusMeasured, store.StatusUnconfirmed)

// parseFilter reads the filter parameters shared by the list pages: the
// store's filter and the form that shows it back.
func parseFilter(q url.Values) (store.Filter, params.Filter, error) {
	form, err := params.ParseFilter(q, statuses)
	if err != nil {
		return store.Filter{}, form, err
	}
	f := store.Filter{Query: form.Q, Country: form.Country, Method: form.Method, Category: form.Category, Status: form.Status}
	if form.ASN != "" {
		f.ASN, _ = strconv.Atoi(form.ASN) // ParseFilter normalized it
	}
	return f, form, nil
}
